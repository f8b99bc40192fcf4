// Public surface of the typed Engine API client.
export * from './engine-client.js';
export * from '../wire/stdcopy.js';
