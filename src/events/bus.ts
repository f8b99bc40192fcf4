// The event bus: backends publish what happened (container create/start/die/destroy, image
// import/tag/untag/delete, ...); GET /events subscribers receive it live, and a bounded
// history answers `since`. Lifecycle: created once by the daemon, published to for its whole
// life, never persisted (Docker keeps events in memory too).
import type { EventMessage } from '../api/types.js';

export type EventType = EventMessage['Type'];
export type Publish = (type: EventType, action: string, id: string, attributes?: Record<string, string>) => void;

const HISTORY_LIMIT = 1024;

export class EventBus {
  private readonly history: EventMessage[] = [];
  private readonly subscribers = new Set<(event: EventMessage) => void>();

  readonly publish: Publish = (type, action, id, attributes = {}) => {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const event: EventMessage = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Number(nowNs / 1_000_000_000n), timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      event.status = action;
      event.id = id;
      if (attributes.image) event.from = attributes.image;
    }
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    for (const subscriber of this.subscribers) subscriber(event);
  };

  /** Past events with timeNano >= sinceNano, then live ones until the returned function is called. */
  subscribe(sinceNano: number | undefined, onEvent: (event: EventMessage) => void): () => void {
    if (sinceNano !== undefined) for (const event of this.history) if (event.timeNano >= sinceNano) onEvent(event);
    this.subscribers.add(onEvent);
    return () => this.subscribers.delete(onEvent);
  }
}
