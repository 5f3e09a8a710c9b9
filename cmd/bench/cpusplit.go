package main

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSplit samples the CPU time of this process (the server replicas and the benchmark's
// clients) and, when the database is a PostgreSQL server on this machine, of that server's
// processes: the postmaster, its live children (backends, WAL writer, …) and, through the
// postmaster's accounting, its children that have exited. It reads Linux's /proc; elsewhere, or
// for a database on another host, only this process is counted.
type cpuSplit struct {
	postmaster int // 0: PostgreSQL's processes are not counted
}

// cpuSample is one reading of cpuSplit.
type cpuSample struct {
	self, postgres time.Duration
	at             time.Time
}

// newCPUSplit finds the postmaster of db's server (the parent of db's backend), if it runs here.
// db nil (SQLite): this process only.
func newCPUSplit(ctx context.Context, db *sql.DB) cpuSplit {
	if db == nil {
		return cpuSplit{}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return cpuSplit{}
	}
	defer conn.Close()
	var backend int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return cpuSplit{}
	}
	// A server on another host: no such process here, or one of another program under the
	// same number; this is not Linux: no /proc.
	st, ok := procStat(strconv.Itoa(backend))
	if !ok || !isPostgres(strconv.Itoa(backend)) {
		return cpuSplit{}
	}
	ppid, err := strconv.Atoi(st[1])
	if err != nil || ppid <= 1 || !isPostgres(st[1]) {
		return cpuSplit{}
	}
	return cpuSplit{postmaster: ppid}
}

// isPostgres reports whether process pid runs PostgreSQL's server program (its backends and
// postmaster are all named postgres).
func isPostgres(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/comm")
	return err == nil && strings.TrimSpace(string(b)) == "postgres"
}

// counted reports whether PostgreSQL's processes are counted.
func (c cpuSplit) counted() bool { return c.postmaster != 0 }

// sample reads the CPU times now.
func (c cpuSplit) sample() cpuSample {
	s := cpuSample{at: time.Now(), self: processCPU()}
	if c.postmaster == 0 {
		return s
	}
	pm := strconv.Itoa(c.postmaster)
	if st, ok := procStat(pm); ok { // its own time and its exited children's
		s.postgres += ticks(st[11]) + ticks(st[12]) + ticks(st[13]) + ticks(st[14])
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if st, ok := procStat(e.Name()); ok && st[1] == pm {
			s.postgres += ticks(st[11]) + ticks(st[12])
		}
	}
	return s
}

// procStat returns the fields of /proc/<pid>/stat after the command's name: state, ppid, …, so
// that utime is [11], stime [12], cutime [13] and cstime [14].
func procStat(pid string) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil, false
	}
	f := strings.Fields(s[i+2:])
	return f, len(f) > 14
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture Go
// supports.
const clockTicks = 100

func ticks(field string) time.Duration {
	n, _ := strconv.ParseInt(field, 10, 64)
	return time.Duration(n) * time.Second / clockTicks
}
