package config

import "github.com/directus-backup/directus-backup/internal/schedule"

const (
	envSchedule       = "BACKUP_SCHEDULE"
	envVerifySchedule = "BACKUP_VERIFY_SCHEDULE"
)

const scheduleAccepted = "a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. 0 2 * * *), @hourly, @daily, @weekly, @monthly, @yearly or @every <duration> (e.g. @every 6h)"

// schedule checks a schedule setting at load, so `schedule` never starts
// with a bad expression (and doctor and every other command report it).
func (r *resolver) schedule(env string) string {
	v := r.value(env)
	if v == "" {
		return ""
	}
	if _, err := schedule.Parse(v); err != nil {
		r.fail(env, v, scheduleAccepted, err)
	}
	return v
}
