module declog.test/interop

go 1.19

require golang.org/x/mod v0.7.0

// Debian's golang-golang-x-mod-dev installs x/mod 0.7.0 here, so the build
// needs no network (GOFLAGS=-mod=mod GOPROXY=off).
replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
