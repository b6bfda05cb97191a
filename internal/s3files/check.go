package s3files

import (
	"context"
	"io"
)

// CheckResult is what Check found.
type CheckResult struct {
	Where string // endpoint, bucket and prefix (no credentials)
	Empty bool   // no object under the prefix: nothing to back up, or the wrong ROOT
	Read  string // the object read back to check the right to download ("" when Empty)
}

// Check is doctor's look at a location: the bucket is reachable and can be
// listed with these credentials, and an object under the prefix can be
// read (a backup needs both rights). It changes nothing.
func Check(ctx context.Context, loc Location) (CheckResult, error) {
	st, err := loc.open()
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{Where: st.Where(), Empty: true}
	var key string
	for o, err := range st.List(ctx, "") {
		if err != nil {
			return res, err
		}
		if o.Size > 0 {
			key = o.Key
			break
		}
	}
	if key == "" {
		return res, nil
	}
	res.Empty = false
	r, _, err := st.GetInfo(ctx, key)
	if err != nil {
		return res, err
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1)); err != nil {
		return res, err
	}
	res.Read = key
	return res, nil
}
