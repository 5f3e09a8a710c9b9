package jsonlit

import (
	"encoding/json"
	"testing"
)

func TestLit(t *testing.T) {
	data := []byte(`{"seq":12}`)
	if i, ok := Lit(data, 0, `{"seq":`); !ok || i != 7 {
		t.Errorf(`Lit({"seq":) = %d, %v; want 7, true`, i, ok)
	}
	for _, s := range []string{`{"step":`, `{"seq":12}x`, `x`} {
		if i, ok := Lit(data, 0, s); ok || i != 0 {
			t.Errorf("Lit(%q) = %d, %v; want 0, false", s, i, ok)
		}
	}
	if i, ok := Lit(data, len(data), ""); !ok || i != len(data) {
		t.Errorf("Lit of nothing at the end = %d, %v", i, ok)
	}
}

// Int accepts exactly the integers encoding/json reads as int64 with at most 18 digits, and
// stops where the number ends.
func TestIntAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{"0", "7", "-7", "10", "123456789012345678", "-123456789012345678",
		"1234567890123456789", "01", "-0", "-", "", "-01", "x", "9,", "42}"} {
		n, i, ok := Int([]byte(in), 0)
		var want int64
		num := in
		for j, c := range in {
			if c == ',' || c == '}' {
				num = in[:j]
				break
			}
		}
		err := json.Unmarshal([]byte(num), &want)
		digits := len(num)
		if len(num) > 0 && num[0] == '-' {
			digits--
		}
		jsonOK := err == nil && digits <= 18
		if ok != jsonOK || (ok && (n != want || i != len(num))) {
			t.Errorf("Int(%q) = %d, %d, %v; encoding/json: %d, %v (digits %d)", in, n, i, ok, want, err, digits)
		}
	}
}

// A fraction or an exponent is not Int's: it reads the integer before it and stops there, where
// the caller's next literal (a comma or a brace) then fails and encoding/json decides.
func TestIntStopsBeforeAFraction(t *testing.T) {
	for _, in := range []string{"1.5", "1e3"} {
		if n, i, ok := Int([]byte(in), 0); !ok || n != 1 || i != 1 {
			t.Errorf("Int(%q) = %d, %d, %v; want 1, 1, true", in, n, i, ok)
		}
	}
}
