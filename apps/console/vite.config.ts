import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The pages, built into dist/web and served by the console's backend
// (dist/server); `npx vite` in this folder serves them with the API proxied.
export default defineConfig({
  root: 'src/web',
  plugins: [react()],
  build: {
    outDir: '../../dist/web',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2_000,
    rollupOptions: {
      output: {
        manualChunks: (id) =>
          id.includes('node_modules/echarts') || id.includes('node_modules/zrender')
            ? 'charts'
            : id.includes('node_modules/antd') ||
                id.includes('node_modules/@ant-design') ||
                id.includes('node_modules/rc-')
              ? 'ui'
              : undefined,
      },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/api': 'http://127.0.0.1:8080', '/auth': 'http://127.0.0.1:8080' },
  },
});
