// Command bench-s3 is the S3 side of the benchmark's offsite scenarios
// (bench/cmd/bench runs it as a child process; bench/run.sh builds it):
//
//	bench-s3 put -src DIR -bucket B -prefix P [-jobs 8]   the aws-s3-cp-style copy (baseline)
//	bench-s3 get -bucket B -prefix P -dest DIR [-jobs 8]  and back
//	bench-s3 mb -bucket B                                 make a bucket
//	bench-s3 rb -bucket B                                 empty and remove a bucket
//	bench-s3 list -bucket B -prefix P -out FILE           object sizes as JSON (key -> bytes)
//	bench-s3 dump-stored -bucket B -backup NAME -identity FILE -before FILE
//	                                                      stored bytes of the dump pieces a push sent
//	bench-s3 keygen -out FILE                             an age identity (0600); prints its recipient
//
// The server and keys come from DIRECTUS_BACKUP_TEST_S3_{ENDPOINT,ACCESS_KEY,SECRET_KEY}
// (scripts/s3.sh exports them), never from argv, where ps shows them.
//
// It is its own binary so that the harness, whose binary is also the small
// rusage-exec wrapper around every measured child, links no S3 client or
// age: a child's peak RSS starts from its wrapper's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench-s3 put|get|mb|rb|list|dump-stored|keygen ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "put":
		os.Exit(s3Put(args))
	case "get":
		os.Exit(s3Get(args))
	case "mb", "rb", "list", "dump-stored":
		os.Exit(bucketCmd(os.Args[1], args))
	case "keygen":
		os.Exit(keygen(args))
	}
	fmt.Fprintf(os.Stderr, "bench-s3: unknown command %q\n", os.Args[1])
	os.Exit(2)
}

func bucketCmd(name string, args []string) int {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	bucket := fl.String("bucket", "", "bucket")
	prefix := fl.String("prefix", "", "key prefix (list)")
	out := fl.String("out", "", "file to write (list)")
	backup := fl.String("backup", "", "backup name (dump-stored)")
	identity := fl.String("identity", "", "age identity file (dump-stored)")
	before := fl.String("before", "", "a list -out file taken before the push (dump-stored)")
	if err := fl.Parse(args); err != nil || *bucket == "" {
		fmt.Fprintf(os.Stderr, "usage: bench-s3 %s -bucket B ...\n", name)
		return 2
	}
	c, err := s3Client()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	ctx := context.Background()
	switch name {
	case "mb":
		err = c.MakeBucket(ctx, *bucket, minio.MakeBucketOptions{})
	case "rb":
		err = removeBucket(ctx, c, *bucket)
	case "list":
		var m map[string]int64
		if m, err = listSizes(ctx, c, *bucket, *prefix); err == nil {
			var data []byte
			if data, err = json.Marshal(m); err == nil {
				err = os.WriteFile(*out, data, 0o644)
			}
		}
	case "dump-stored":
		var n int64
		if n, err = dumpStored(ctx, c, *bucket, *backup, *identity, *before); err == nil {
			return printJSON(map[string]int64{"stored": n})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// listSizes lists the objects under prefix: key -> stored size.
func listSizes(ctx context.Context, c *minio.Client, bucket, prefix string) (map[string]int64, error) {
	m := map[string]int64{}
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		m[o.Key] = o.Size
	}
	return m, nil
}

// dumpStored returns the stored bytes of the dump pieces a push of backup
// created: data objects absent from the before listing that the backup's
// objects list (backups/<backup>/objects.jsonl.age, opened with the
// identity) names as dump pieces. The layout is internal/offsite/doc.go's.
func dumpStored(ctx context.Context, c *minio.Client, bucket, backup, identityFile, beforeFile string) (int64, error) {
	var before map[string]int64
	data, err := os.ReadFile(beforeFile)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(data, &before); err != nil {
		return 0, fmt.Errorf("%s: %w", beforeFile, err)
	}
	after, err := listSizes(ctx, c, bucket, "data/")
	if err != nil {
		return 0, err
	}
	idf, err := os.ReadFile(identityFile)
	if err != nil {
		return 0, err
	}
	ids, err := age.ParseIdentities(strings.NewReader(string(idf)))
	if err != nil {
		return 0, err
	}
	obj, err := c.GetObject(ctx, bucket, "backups/"+backup+"/objects.jsonl.age", minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, ids...)
	if err != nil {
		return 0, fmt.Errorf("objects list of %s: %w", backup, err)
	}
	var total int64
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Kind string `json:"k"`
			Name string `json:"n"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return 0, fmt.Errorf("objects list of %s: %w", backup, err)
		}
		if l.Kind != "dump" || len(l.Name) < 2 || seen[l.Name] {
			continue
		}
		seen[l.Name] = true
		key := "data/" + l.Name[:2] + "/" + l.Name
		if _, old := before[key]; !old {
			total += after[key]
		}
	}
	return total, sc.Err()
}

// keygen writes a new age identity to -out (0600) and prints its
// recipient: the pushes get only the recipient, as on a backup host.
func keygen(args []string) int {
	fl := flag.NewFlagSet("keygen", flag.ContinueOnError)
	out := fl.String("out", "", "identity file to write")
	if err := fl.Parse(args); err != nil || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: bench-s3 keygen -out FILE")
		return 2
	}
	id, err := age.GenerateX25519Identity()
	if err == nil {
		err = os.WriteFile(*out, []byte(id.String()+"\n"), 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		return 1
	}
	fmt.Println(id.Recipient().String())
	return 0
}
