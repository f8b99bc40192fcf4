// The client's own version, shown by `berth -v` and `berth version`.
export const BERTH_VERSION = '0.1.0';
export const BERTH_GIT_COMMIT = 'unknown';
