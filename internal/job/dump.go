package job

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/directus-backup/directus-backup/internal/pgdump"
	"github.com/directus-backup/directus-backup/internal/repo"
)

// DumpOptions builds the pg_dump options for cfg and a resolved method.
func (r *run) dumpOptions() pgdump.Options {
	cfg := r.cfg
	return pgdump.Options{
		Conn: pgdump.Conn{
			Host: cfg.DB.Host, Port: cfg.DB.Port, User: cfg.DB.User,
			Password: cfg.DB.Password, Database: cfg.DB.Database,
		},
		Method:      r.method,
		ComposeFile: cfg.DockerComposeFile,
		Service:     cfg.DockerService,
		Compression: cfg.Compression,
		Level:       cfg.GzipLevel,
	}
}

func (r *run) dumpDatabase(ctx context.Context) error {
	opts := r.dumpOptions()
	opts.Stderr = r.stderr
	opts.OnBytes = func(n int64) { r.deps.Progress.DumpBytes.Store(n) }
	file := repo.DumpGzip
	if opts.Compression == pgdump.CompressionNone {
		file = repo.DumpPlain
	}
	r.log.Info("dumping database", "database", opts.Conn.Database, "compression", opts.Compression)
	res, err := pgdump.Dump(ctx, opts, filepath.Join(r.temp, file))
	r.rep.Dump = res
	if err != nil {
		return fmt.Errorf("dump database %s: %w", opts.Conn.Database, err)
	}
	if s := r.stderr.String(); s != "" {
		r.log.Warn("pg_dump wrote to stderr", "stderr", s)
	}
	args := []any{"file", file, "raw", HumanBytes(res.RawBytes), "stored", HumanBytes(res.Bytes)}
	if opts.Compression != pgdump.CompressionNone && res.Bytes > 0 {
		args = append(args, "ratio", fmt.Sprintf("%.2f:1", float64(res.RawBytes)/float64(res.Bytes)),
			"saved", fmt.Sprintf("%.1f%%", 100*(1-float64(res.Bytes)/float64(res.RawBytes))))
	}
	r.log.Info("database dumped", args...)
	return nil
}
