package config

// EnvFileHoldsPassword reports whether the .env file that was read sets
// DB_PASSWORD (even when another source overrides it): then who can read
// that file can read the database password, which pre-flight checks.
func (c *Config) EnvFileHoldsPassword() bool {
	v, ok := c.vars.file[envDBPassword]
	return c.EnvFile != "" && ok && !blank(v)
}
