// Preloaded into the measured CLI process (node --import): reports its peak RSS and wall time on exit, on stderr.
const started = performance.now();
process.on('exit', () => {
  process.stderr.write(
    `\nBENCH maxRSS_kB=${process.resourceUsage().maxRSS} wall_ms=${Math.round(performance.now() - started)}\n`,
  );
});
