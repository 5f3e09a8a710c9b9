package azureclassic

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Azure's ReleaseTriggerType, by number.
var triggerTypes = map[int]string{0: "undefined", 1: "artifactsource", 2: "schedule", 3: "sourcerepo", 4: "containerimage", 5: "package", 6: "pullrequest"}

var aliasBad = regexp.MustCompile(`[^A-Za-z0-9_.\-]`)

// artifacts maps artifact sources of type Build (Team Build) and Jenkins.
func (c *mapper) artifacts(def *azDefinition) []spec.ArtifactSourceSpec {
	var out []spec.ArtifactSourceSpec
	for i, a := range def.Artifacts {
		p := fmt.Sprintf("artifacts[%d]", i)
		alias := strings.TrimSpace(string(a.Alias))
		ref := func(k string) azRef { return a.DefinitionReference[k] }
		src := spec.ArtifactSourceSpec{Alias: alias, Primary: bool(a.IsPrimary)}
		if clean := aliasBad.ReplaceAllString(alias, "_"); clean != alias || strings.HasPrefix(clean, ".") || strings.HasPrefix(clean, "-") {
			clean = strings.TrimLeft(clean, ".-")
			if clean == "" {
				clean = fmt.Sprintf("artifact%d", i+1)
			}
			src.Alias = clean
			c.note(p+".alias", Approximated, fmt.Sprintf("alias %q → %q (Cairn aliases are folder and variable names: letters, digits, _ . -); scripts that use the old folder name need the new one", alias, clean))
		}
		switch typ := strings.ToLower(strings.TrimSpace(string(a.Type))); typ {
		case "build":
			src.Type = "TEAMBUILD"
			src.Job = firstNonEmpty(string(ref("definition").ID), string(ref("definition").Name))
			src.Project = firstNonEmpty(string(ref("project").Name), string(ref("project").ID))
			conn, ok := c.connection(string(ref("connection").ID), string(ref("connection").Name),
				string(ref("project").ID), string(ref("project").Name), "*")
			if !ok {
				c.note(p, NeedsInput, fmt.Sprintf("Build artifact %q of project %q: map the Azure DevOps organization to a Cairn AZURE_DEVOPS connection (mapping.serviceConnections, azure: the project id or name, or \"*\")", alias, src.Project))
			}
			src.Connection = conn
			if ok {
				c.note(p, Mapped, fmt.Sprintf("Build artifact → TEAMBUILD source (definition %s of project %s) on connection %q", src.Job, src.Project, conn))
			}
		case "jenkins":
			src.Type = "JENKINS"
			src.Job = firstNonEmpty(string(ref("definition").ID), string(ref("definition").Name))
			conn, ok := c.connection(string(ref("connection").ID), string(ref("connection").Name))
			if !ok {
				c.note(p, NeedsInput, fmt.Sprintf("Jenkins artifact %q: map its service endpoint %s to a Cairn JENKINS connection (mapping.serviceConnections)",
					alias, firstNonEmpty(string(ref("connection").Name), string(ref("connection").ID), "(none)")))
			}
			src.Connection = conn
			if ok {
				c.note(p, Mapped, fmt.Sprintf("Jenkins artifact → JENKINS source (job %s) on connection %q", src.Job, conn))
			}
		default:
			c.note(p, Dropped, fmt.Sprintf("%s artifact %q: Cairn's artifact sources are Jenkins jobs and Team Build definitions; tasks that read its files need another way to get them", a.Type, alias))
			continue
		}
		if v := ref("defaultVersionType"); v.ID != "" {
			switch strings.ToLower(string(v.ID)) {
			case "latesttype":
				c.note(p+".definitionReference.defaultVersionType", Mapped, "default version: the latest build")
			default:
				c.note(p+".definitionReference.defaultVersionType", Approximated, fmt.Sprintf("default version %q (%s): a release by hand takes the latest build unless a version is given", v.ID, firstNonEmpty(string(ref("defaultVersionBranch").ID), string(ref("defaultVersionSpecific").ID), string(ref("defaultVersionTags").ID))))
			}
		}
		if b := ref("branches"); b.ID != "" || b.Name != "" {
			c.note(p+".definitionReference.branches", Mapped, fmt.Sprintf("branches %s: used by the continuous-deployment trigger's filters", firstNonEmpty(string(b.Name), string(b.ID))))
		}
		out = append(out, src)
	}
	return out
}

// triggers maps the definition's release triggers: artifact source triggers turn on
// continuous deployment of their source with branch filters; schedules become cron
// schedules. Artifacts are matched by their Azure alias (renamed ones included).
func (c *mapper) triggers(def *azDefinition, sources []spec.ArtifactSourceSpec) []spec.Schedule {
	var out []spec.Schedule
	for i, t := range def.Triggers {
		p := fmt.Sprintf("triggers[%d]", i)
		switch kind := enumName(t.TriggerType, triggerTypes); kind {
		case "artifactsource":
			alias := strings.TrimSpace(string(t.ArtifactAlias))
			idx := -1
			for j, a := range def.Artifacts {
				if strings.TrimSpace(string(a.Alias)) == alias {
					idx = j
				}
			}
			if idx < 0 {
				c.note(p, Dropped, fmt.Sprintf("continuous deployment of artifact %q, which the definition does not have", alias))
				continue
			}
			si := -1
			for j := range sources {
				if strings.EqualFold(sources[j].Alias, aliasBad.ReplaceAllString(alias, "_")) || strings.EqualFold(sources[j].Alias, alias) {
					si = j
				}
			}
			if si < 0 {
				c.note(p, Dropped, fmt.Sprintf("continuous deployment of artifact %q, which was not imported", alias))
				continue
			}
			src := &sources[si]
			var filters []string
			tagged := false
			for k, tc := range t.TriggerConditions {
				cp := fmt.Sprintf("%s.triggerConditions[%d]", p, k)
				b := strings.TrimSpace(string(tc.SourceBranch))
				if tc.UseBuildDefinitionBranch {
					if db := def.Artifacts[idx].DefinitionReference["defaultVersionBranch"]; db.ID != "" {
						b = string(db.ID)
					}
				}
				if len(tc.Tags) > 0 {
					tagged = true
					c.note(cp+".tags", Approximated, fmt.Sprintf("build tag filter %v: Cairn cannot filter builds by tag, so continuous deployment is off for this source (deploy by hand); ignoring the filter would release more builds", []string(tc.Tags)))
				}
				if b != "" {
					filters = append(filters, spec.NormalizeBranch(b))
				}
			}
			if tagged {
				continue
			}
			src.ContinuousDeployment = true
			src.BranchFilters = append(src.BranchFilters, filters...)
			if len(filters) > 0 {
				c.note(p, Mapped, fmt.Sprintf("continuous deployment of %q on branches %s", src.Alias, strings.Join(filters, ", ")))
			} else {
				c.note(p, Mapped, fmt.Sprintf("continuous deployment of %q on every branch", src.Alias))
			}
		case "schedule":
			if t.Schedule == nil {
				c.note(p, Dropped, "schedule trigger without a schedule")
				continue
			}
			if s, ok := c.schedule(p+".schedule", t.Schedule); ok {
				out = append(out, s)
			}
		default:
			c.note(p, Dropped, fmt.Sprintf("%s trigger: Cairn creates releases from CI builds (continuous deployment), schedules and people", firstNonEmpty(string(t.TriggerType), "unknown")))
		}
	}
	return out
}

// Azure's ScheduleDays bits and cron's day numbers.
var scheduleDays = []struct {
	bit  int
	name string
	cron string
}{{1, "monday", "1"}, {2, "tuesday", "2"}, {4, "wednesday", "3"}, {8, "thursday", "4"}, {16, "friday", "5"}, {32, "saturday", "6"}, {64, "sunday", "0"}}

// schedule maps a release schedule to cron.
func (c *mapper) schedule(p string, s *azSchedule) (spec.Schedule, bool) {
	days := 0
	raw := strings.TrimSpace(string(s.DaysToRelease))
	if n, err := fmtAtoi(raw); err == nil {
		days = n
	} else {
		for _, part := range strings.FieldsFunc(strings.ToLower(raw), func(r rune) bool { return r == ',' || r == ' ' }) {
			if part == "all" {
				days = 127
			}
			for _, d := range scheduleDays {
				if part == d.name {
					days |= d.bit
				}
			}
		}
	}
	if days&127 == 0 {
		c.note(p, Dropped, fmt.Sprintf("schedule on no day (%q)", raw))
		return spec.Schedule{}, false
	}
	dow := "*"
	if days&127 != 127 {
		var list []string
		for _, d := range scheduleDays {
			if days&d.bit != 0 {
				list = append(list, d.cron)
			}
		}
		dow = strings.Join(list, ",")
	}
	h, m := int(s.StartHours), int(s.StartMinutes)
	if h < 0 || h > 23 || m < 0 || m > 59 {
		c.note(p, Dropped, fmt.Sprintf("schedule at %d:%02d is not a time of day", h, m))
		return spec.Schedule{}, false
	}
	out := spec.Schedule{Cron: fmt.Sprintf("%d %d * * %s", m, h, dow), ScheduleOnlyWithChanges: bool(s.ScheduleOnlyWithChanges)}
	tz := strings.TrimSpace(string(s.TimeZoneID))
	if iana, ok := windowsZones[tz]; ok {
		out.TimeZone = iana
		c.note(p, Mapped, fmt.Sprintf("schedule → cron %q in %s", out.Cron, iana))
	} else if strings.Contains(tz, "/") || tz == "UTC" {
		out.TimeZone = tz
		c.note(p, Mapped, fmt.Sprintf("schedule → cron %q in %s", out.Cron, tz))
	} else {
		out.TimeZone = "UTC"
		c.note(p+".timeZoneId", Approximated, fmt.Sprintf("time zone %q is not known to the import: the schedule runs at %d:%02d UTC; set the zone after the import", tz, h, m))
	}
	return out, true
}

func fmtAtoi(s string) (int, error) {
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	if err == nil && fmt.Sprint(n) != s {
		return 0, fmt.Errorf("not a number")
	}
	return n, err
}

// windowsZones maps the Windows time zone ids Azure DevOps uses to IANA names (the
// common ones; CLDR's windowsZones table, territory 001).
var windowsZones = map[string]string{
	"UTC": "UTC", "Coordinated Universal Time": "UTC", "GMT Standard Time": "Europe/London",
	"Greenwich Standard Time": "Atlantic/Reykjavik", "W. Europe Standard Time": "Europe/Berlin",
	"Central Europe Standard Time": "Europe/Budapest", "Romance Standard Time": "Europe/Paris",
	"Central European Standard Time": "Europe/Warsaw", "E. Europe Standard Time": "Europe/Chisinau",
	"FLE Standard Time": "Europe/Kiev", "GTB Standard Time": "Europe/Bucharest",
	"Russian Standard Time": "Europe/Moscow", "Turkey Standard Time": "Europe/Istanbul",
	"Israel Standard Time": "Asia/Jerusalem", "South Africa Standard Time": "Africa/Johannesburg",
	"Arabian Standard Time": "Asia/Dubai", "India Standard Time": "Asia/Kolkata",
	"China Standard Time": "Asia/Shanghai", "Singapore Standard Time": "Asia/Singapore",
	"Tokyo Standard Time": "Asia/Tokyo", "Korea Standard Time": "Asia/Seoul",
	"AUS Eastern Standard Time": "Australia/Sydney", "New Zealand Standard Time": "Pacific/Auckland",
	"Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
	"Mountain Standard Time": "America/Denver", "US Mountain Standard Time": "America/Phoenix",
	"Pacific Standard Time": "America/Los_Angeles", "Alaskan Standard Time": "America/Anchorage",
	"Hawaiian Standard Time": "Pacific/Honolulu", "Atlantic Standard Time": "America/Halifax",
	"E. South America Standard Time": "America/Sao_Paulo", "SA Pacific Standard Time": "America/Bogota",
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}
