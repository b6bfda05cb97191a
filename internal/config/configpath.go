package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// envConfigPath is Directus's CONFIG_PATH: the file it reads its settings
// from instead of ./.env (a .env file, or .json, .yaml, .js).
const envConfigPath = "CONFIG_PATH"

// configPathAccepted is what CONFIG_PATH may name for the tool.
const configPathAccepted = "the path of an existing configuration file in .env format or .json (an object of strings, numbers and booleans)"

// readConfigPath reads the file CONFIG_PATH names (value as set, resolved
// against dir) into variables, by its extension as Directus does: .json
// is an object of values, .js, .mjs, .cjs, .yaml and .yml are refused
// (the tool cannot run JavaScript, and has no YAML reader), anything else
// is a .env file.
func readConfigPath(value, from, dir string) (string, map[string]string, error) {
	_, p := castFlag(strings.TrimSpace(value))
	path := resolvePath(dir, p)
	bad := func(err error) error {
		return &SettingError{Setting: envConfigPath, Value: value, From: from, Accepted: configPathAccepted, Err: err}
	}
	switch ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), ".")); ext {
	case "js", "mjs", "cjs", "yaml", "yml":
		what := "a JavaScript configuration file runs code, which directus-backup cannot do"
		if ext == "yaml" || ext == "yml" {
			what = "directus-backup does not read YAML configuration files"
		}
		return "", nil, bad(fmt.Errorf("%s: set BACKUP_ENV_FILE to a .env file holding the same settings, or export them in the environment", what))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, bad(fmt.Errorf("%w (a path inside a container? set BACKUP_ENV_FILE to the file's path on this host)", err))
	}
	if !strings.EqualFold(filepath.Ext(path), ".json") {
		return path, parseDotenv(data), nil
	}
	vars, err := parseJSONConfig(data)
	if err != nil {
		return "", nil, bad(err)
	}
	return path, vars, nil
}

// parseJSONConfig reads a JSON object of settings: strings as they are,
// numbers as written, booleans as true or false; nested values are refused
// (Directus would hand them to its code as objects).
func parseJSONConfig(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	out := map[string]string{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = fmt.Sprint(v)
		case nil:
		default:
			return nil, errors.New("the value of " + k + " is an object or array, which directus-backup cannot use; give it as a string")
		}
	}
	return out, nil
}
