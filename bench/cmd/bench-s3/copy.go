package main

// The baseline of the offsite scenarios: a backup folder copied to S3 the
// way `aws s3 cp --recursive` does it (every file one object under
// PREFIX/<its path>, 8 transfers at a time, no encryption), and fetched
// back the same way. Written with minio-go, the tool's own S3 client, so
// that the comparison is between the two ways of using a bucket, not
// between two HTTP stacks.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Env names the variables the S3 test server's settings come in
// (scripts/s3.sh exports them).
var s3Env = []string{"DIRECTUS_BACKUP_TEST_S3_ENDPOINT", "DIRECTUS_BACKUP_TEST_S3_ACCESS_KEY", "DIRECTUS_BACKUP_TEST_S3_SECRET_KEY"}

// s3Client connects to the server named by s3Env.
func s3Client() (*minio.Client, error) {
	var v [3]string
	for i, k := range s3Env {
		if v[i] = os.Getenv(k); v[i] == "" {
			return nil, fmt.Errorf("no S3 server: %s is not set (bench/run.sh starts one through scripts/s3.sh)", k)
		}
	}
	return s3ClientFrom(v[0], v[1], v[2])
}

// s3ClientFrom connects to a plain-http S3 server on loopback.
func s3ClientFrom(endpoint, access, secret string) (*minio.Client, error) {
	return minio.New(endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(access, secret, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
}

// copyResult is what put and get print.
type copyResult struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// s3Put uploads every regular file under -src as one object.
func s3Put(args []string) int {
	fl := flag.NewFlagSet("put", flag.ContinueOnError)
	src := fl.String("src", "", "folder to copy")
	bucket := fl.String("bucket", "", "bucket")
	prefix := fl.String("prefix", "", "key prefix (ends in /)")
	jobs := fl.Int("jobs", 8, "parallel uploads (aws s3 cp's default max_concurrent_requests is 10; 8 as the tool)")
	if err := fl.Parse(args); err != nil || *src == "" || *bucket == "" {
		fmt.Fprintln(os.Stderr, "usage: bench-s3 put -src DIR -bucket B -prefix P [-jobs N]")
		return 2
	}
	c, err := s3Client()
	if err != nil {
		fmt.Fprintln(os.Stderr, "put:", err)
		return 1
	}
	res, err := putTree(context.Background(), c, *src, *bucket, *prefix, *jobs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "put:", err)
		return 1
	}
	return printJSON(res)
}

// putTree uploads every regular file under src as prefix + its path, jobs
// at a time.
func putTree(ctx context.Context, c *minio.Client, src, bucket, prefix string, jobs int) (copyResult, error) {
	type item struct {
		path, key string
		size      int64
	}
	var res copyResult
	var mu sync.Mutex
	var firstErr error
	work := make(chan item, 2*jobs)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for it := range work {
				err := putFile(ctx, c, bucket, it.key, it.path, it.size)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					res.Objects++
					res.Bytes += it.size
				}
				mu.Unlock()
			}
		})
	}
	walkErr := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		work <- item{path: p, key: prefix + filepath.ToSlash(rel), size: fi.Size()}
		return nil
	})
	close(work)
	wg.Wait()
	return res, errors.Join(walkErr, firstErr)
}

func putFile(ctx context.Context, c *minio.Client, bucket, key, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// aws s3 cp: multipart above 8 MiB, in 8 MiB parts.
	_, err = c.PutObject(ctx, bucket, key, f, size, minio.PutObjectOptions{PartSize: 8 << 20})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// s3Get downloads every object under -prefix into -dest.
func s3Get(args []string) int {
	fl := flag.NewFlagSet("get", flag.ContinueOnError)
	dest := fl.String("dest", "", "folder to write")
	bucket := fl.String("bucket", "", "bucket")
	prefix := fl.String("prefix", "", "key prefix (ends in /)")
	jobs := fl.Int("jobs", 8, "parallel downloads")
	if err := fl.Parse(args); err != nil || *dest == "" || *bucket == "" {
		fmt.Fprintln(os.Stderr, "usage: bench-s3 get -bucket B -prefix P -dest DIR [-jobs N]")
		return 2
	}
	c, err := s3Client()
	if err != nil {
		fmt.Fprintln(os.Stderr, "get:", err)
		return 1
	}
	res, err := getTree(context.Background(), c, *bucket, *prefix, *dest, *jobs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "get:", err)
		return 1
	}
	return printJSON(res)
}

// getTree downloads every object under prefix into dest (key minus prefix
// as the path), jobs at a time.
func getTree(ctx context.Context, c *minio.Client, bucket, prefix, dest string, jobs int) (copyResult, error) {
	var objects, bytes atomic.Int64
	var mu sync.Mutex
	var firstErr error
	work := make(chan minio.ObjectInfo, 2*jobs)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for o := range work {
				rel := strings.TrimPrefix(o.Key, prefix)
				p := filepath.Join(dest, filepath.FromSlash(rel))
				err := os.MkdirAll(filepath.Dir(p), 0o755)
				if err == nil {
					err = c.FGetObject(ctx, bucket, o.Key, p, minio.GetObjectOptions{})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("get %s: %w", o.Key, err)
					}
					mu.Unlock()
					continue
				}
				objects.Add(1)
				bytes.Add(o.Size)
			}
		})
	}
	var listErr error
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			listErr = o.Err
			break
		}
		work <- o
	}
	close(work)
	wg.Wait()
	return copyResult{Objects: objects.Load(), Bytes: bytes.Load()}, errors.Join(listErr, firstErr)
}

func printJSON(v any) int {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// removeBucket deletes every object (and version) of a bucket, then the
// bucket, so that the scratch filesystem does not fill with old copies.
func removeBucket(ctx context.Context, c *minio.Client, name string) error {
	objs := make(chan minio.ObjectInfo)
	var listErr error
	go func() {
		defer close(objs)
		for o := range c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				listErr = o.Err
				return
			}
			objs <- o
		}
	}()
	var err error
	// Drain every result so that the listing goroutine never blocks.
	for r := range c.RemoveObjects(ctx, name, objs, minio.RemoveObjectsOptions{GovernanceBypass: true}) {
		if r.Err != nil && err == nil {
			err = r.Err
		}
	}
	if err = errors.Join(err, listErr); err != nil {
		return fmt.Errorf("empty bucket %s: %w", name, err)
	}
	return c.RemoveBucket(ctx, name)
}
