package main

import (
	"fmt"
	"io"
)

// row is one line of the report.
type row struct {
	metric, value, floor, ratio, target, verdict string
}

type report struct {
	header string
	floors []row
	rows   []row
	notes  []string
}

func (r *report) add(x row) { r.rows = append(r.rows, x) }

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// verdict says whether a measured value meets its target.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ratio(v, floor float64) string {
	if floor <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", v/floor)
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "%s\n\n", r.header)
	fmt.Fprintf(w, "| floor (same run) | value |\n| --- | --- |\n")
	for _, f := range r.floors {
		fmt.Fprintf(w, "| %s | %s |\n", f.metric, f.value)
	}
	fmt.Fprintf(w, "\n| measurement | value | floor | ratio to floor | target | |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, x := range r.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", x.metric, x.value, x.floor, x.ratio, x.target, x.verdict)
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}
