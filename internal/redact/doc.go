// Package redact removes secrets from text that directus-backup writes where
// other people may read it: the environment dump and logs in an error folder,
// and pg_dump's error output.
//
// It errs towards hiding too much. [Env] hides every value whose name looks
// secret, and credentials inside URLs and key=value connection strings in
// all other values; [String] hides known secret values anywhere in a text.
package redact
