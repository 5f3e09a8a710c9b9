import { defineConfig } from 'vite';

// Two pages: the dashboard (index.html) and GraphiQL (graphiql.html). The
// output in dist/ is committed and embedded by web.go; CI rebuilds it and
// fails when it differs, so file names are content hashes and nothing
// depends on the time or the machine of the build.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: { index: 'index.html', graphiql: 'graphiql.html' },
      // GraphiQL's dependencies carry React Server Components' "use client".
      onwarn(w, warn) {
        if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w);
      },
    },
  },
});
