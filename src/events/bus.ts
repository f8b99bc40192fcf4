// The event bus: backends publish what happened (container create/start/die/destroy, image
// import/tag/untag/delete, ...); GET /events subscribers receive it live, and a bounded
// history answers `since`. Lifecycle: created once by the daemon, published to for its whole
// life, never persisted (Docker keeps events in memory too).
import type { EventMessage } from '../wire/types.js';

export type EventType = EventMessage['Type'];
export type Publish = (type: EventType, action: string, id: string, attributes?: Record<string, string>) => void;

const HISTORY_LIMIT = 1024;
const NANO_STEP = 1024;

export class EventBus {
  private readonly history: EventMessage[] = [];
  private readonly subscribers = new Set<(event: EventMessage) => void>();
  private lastTimeNano = 0;

  readonly publish: Publish = (type, action, id, attributes = {}) => {
    // Strictly increasing, so that events within one millisecond keep their order; the step is
    // what a double can still tell apart at today's nanosecond timestamps.
    const timeNano = Math.max(Date.now() * 1e6, this.lastTimeNano + NANO_STEP);
    this.lastTimeNano = timeNano;
    const event: EventMessage = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Math.floor(timeNano / 1e9), timeNano,
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
