package front

import (
	"net/url"
	"reflect"
	"testing"
)

func TestParsePlainTarget(t *testing.T) {
	// Where parsePlainTarget takes a target, it must make of it what the request's URL
	// was before it: url.ParseRequestURI's answer.
	plain := []string{"/", "/a", "/a/b.html", "/index.py/x", "//x", "/a?", "/a?b=1&c=2", "/a?q=%20x",
		"/a;b=1", "/~u/-_.", "/a:b@c,d+e$f=g&h", "/A/Z/0/9", "/?", "/??"[:2]}
	other := []string{"/a%20b", "/a b", "/a#f", "/a?b#f", "/a!b", "/a(b)", "/a*", "/a'b", "/a?b?c", "/a?x y",
		"/ä", "/a\x01", "/a?\x7f", "/a[1]", "/a?q=[1]", "/a|b", "/a\\b", "/a\"b", "/a<b>", "/a{b}", "/a^b", "/a`b"}
	for _, target := range plain {
		var u url.URL
		if !parsePlainTarget(target, &u) {
			t.Errorf("%q: not taken as plain", target)
			continue
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Errorf("%q: ParseRequestURI: %v", target, err)
			continue
		}
		if !reflect.DeepEqual(&u, want) {
			t.Errorf("%q: %#v, ParseRequestURI %#v", target, u, *want)
		}
	}
	for _, target := range other {
		var u url.URL
		if parsePlainTarget(target, &u) {
			t.Errorf("%q: taken as plain", target)
		}
	}
}

func FuzzParsePlainTarget(f *testing.F) {
	for _, s := range []string{"/", "/a?b", "/a%20", "/a?", "//x?y=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		var u url.URL
		if !parsePlainTarget(target, &u) || target == "" || target[0] != '/' {
			return // the front only asks for origin-form targets
		}
		want, err := url.ParseRequestURI(target)
		if err != nil || !reflect.DeepEqual(&u, want) {
			t.Fatalf("%q: %#v, ParseRequestURI %#v %v", target, u, want, err)
		}
	})
}
