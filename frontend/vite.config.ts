/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const backend = 'http://127.0.0.1:8000';

// Django serves the production build from frontend/dist under /static/ and
// returns dist/index.html for every non-API path (SPA fallback).
// The dev server keeps base '/' so the app lives at http://localhost:5173/
// and proxies the API and websockets to Django on :8000.
export default defineConfig(({ command }) => ({
  base: command === 'build' ? '/static/' : '/',
  plugins: [react()],
  resolve: {
    // node-seal's package exports do not list its wasm: the private-search worker imports it by URL.
    alias: [
      {
        find: /^node-seal\/seal_throws\.wasm/, // keeps the ?url suffix
        replacement: fileURLToPath(new URL('./node_modules/node-seal/dist/seal_throws.wasm', import.meta.url)),
      },
    ],
  },
  // The private-search worker imports onnxruntime-web lazily: an ES module worker (Vite's default, iife, cannot split).
  worker: { format: 'es' },
  // Pre-bundling breaks onnxruntime-web's and node-seal's own wasm lookups in the dev server.
  optimizeDeps: { exclude: ['onnxruntime-web', 'node-seal'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': { target: backend },
      '/ws': { target: backend, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
}));
