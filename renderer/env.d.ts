/// <reference types="svelte" />
/** Svelte's ambient types (runes, `*.svelte` modules); the renderer has no Node types. */
declare module '*.css';
