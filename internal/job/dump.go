package job

import (
	"context"
	"fmt"

	"github.com/directus-backup/directus-backup/internal/compress"
	"github.com/directus-backup/directus-backup/internal/dbtarget"
	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/repo"
)

func (r *run) dumpDatabase(ctx context.Context) error {
	opts := pgdump.Options{
		Source:      r.deps.Dumper,
		Target:      dbtarget.Target(r.cfg, r.method),
		Compression: r.cfg.Compression,
		Level:       r.cfg.GzipLevel,
		Stderr:      r.stderr,
		OnBytes:     func(n int64) { r.deps.Progress.DumpBytes.Store(n); r.sawDumpData() },
	}
	r.log.Info("dumping database", "database", opts.Target.Database, "compression", opts.Compression)
	res, err := pgdump.Dump(ctx, opts, repo.DumpIn(r.in(), opts.Compression))
	r.rep.Dump = res
	if err != nil {
		return fmt.Errorf("dump database %s: %w", opts.Target.Database, r.named(err))
	}
	if s := r.stderr.String(); s != "" {
		r.log.Warn("pg_dump wrote to stderr", "stderr", s)
	}
	args := []any{"file", repo.DumpName(opts.Compression), "raw", humanize.Bytes(res.RawBytes), "stored", humanize.Bytes(res.Bytes)}
	if opts.Compression != compress.None && res.Bytes > 0 {
		args = append(args, "ratio", fmt.Sprintf("%.2f:1", float64(res.RawBytes)/float64(res.Bytes)),
			"saved", fmt.Sprintf("%.1f%%", 100*(1-float64(res.Bytes)/float64(res.RawBytes))))
	}
	r.log.Info("database dumped", args...)
	return nil
}
