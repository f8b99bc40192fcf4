// Which events a subscriber asked for (moby's daemon/events/filter.go).
import type { EventMessage } from '../wire/types.js';
import { badParameter } from '../errdefs/errors.js';
import { assertFilterKeys, matchLabelList, type Filters } from '../util/filters.js';

const FILTER_KEYS = ['container', 'daemon', 'event', 'image', 'label', 'network', 'plugin', 'scope', 'type', 'volume', 'node', 'service', 'secret', 'config'];

/** The predicate for `filters`; throws for a key events cannot be filtered by. */
export function eventFilter(filters: Filters): (event: EventMessage) => boolean {
  assertFilterKeys(filters, FILTER_KEYS, badParameter);
  return (event) => eventMatches(event, filters);
}

function eventMatches(event: EventMessage, filters: Filters): boolean {
  const attributes = event.Actor.Attributes;
  const any = (key: string, predicate: (value: string) => boolean) => !filters.has(key) || filters.get(key)!.some(predicate);
  return any('type', (value) => event.Type === value)
    && any('event', (value) => event.Action === value || event.Action.startsWith(`${value}:`))
    && any('container', (value) => event.Type === 'container' && (event.Actor.ID.startsWith(value) || attributes.name === value))
    && any('network', (value) => event.Type === 'network' && (event.Actor.ID.startsWith(value) || attributes.name === value))
    && any('image', (value) => attributes.image === value || attributes.name === value || event.Actor.ID === value
      || (event.Type === 'image' && event.Actor.ID.replace(/^sha256:/, '').startsWith(value.replace(/^sha256:/, ''))))
    && matchLabelList(filters.get('label') ?? [], attributes);
}
