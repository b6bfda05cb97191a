package pgexec

import (
	"context"
	"strings"
	"testing"
)

// The S3 keys in our environment never reach a database client.
func TestCommandDropsOffsiteSecrets(t *testing.T) {
	t.Setenv("BACKUP_S3_SECRET_ACCESS_KEY", "s3-secret-value")
	t.Setenv("BACKUP_S3_ACCESS_KEY_ID", "s3-key-id-value")
	t.Setenv("SOME_OTHER", "kept")
	for _, tg := range []Target{{Method: MethodLocal, Password: "pw"}, {Method: MethodDocker, Service: "database", Password: "pw"}} {
		cmd := tg.Command(context.Background(), "pg_dump")
		env := strings.Join(cmd.Env, "\n")
		if strings.Contains(env, "s3-secret-value") || strings.Contains(env, "s3-key-id-value") {
			t.Errorf("%s: an S3 key reaches the client", tg.Method)
		}
		if !strings.Contains(env, "SOME_OTHER=kept") || !strings.Contains(env, "PGPASSWORD=pw") {
			t.Errorf("%s: the rest of the environment is missing", tg.Method)
		}
	}
}
