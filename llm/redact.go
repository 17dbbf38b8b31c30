package llm

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfo matches the user:password@ part of a URL that url.Parse cannot
// read.
var userinfo = regexp.MustCompile(`://[^/@]*@`)

// RedactURL is u with the password of its userinfo replaced by "xxxxx"
// ([url.URL.Redacted]), for every URL that is shown or written: results,
// reports, logs, printed commands. A URL that does not parse loses its
// whole userinfo.
func RedactURL(u string) string {
	if !strings.Contains(u, "@") {
		return u
	}
	p, err := url.Parse(u)
	if err != nil {
		return userinfo.ReplaceAllString(u, "://xxxxx@")
	}
	return p.Redacted()
}
