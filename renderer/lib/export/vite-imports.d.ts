// Vite's query imports used by katex-assets.ts (the renderer has no vite/client types).

declare module '*.css?raw' {
  const text: string;
  export default text;
}

declare module '*.woff2?inline' {
  /** The file as a data: URI. */
  const uri: string;
  export default uri;
}
