// `autbot:plugin/types` holds only type definitions.
export {};
