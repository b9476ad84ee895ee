package config

import (
	"reflect"
	"strings"
)

// RestartKeys are the keys the relay reads only when it starts (see
// internal/app's Serve): the listener, the logger, the delivery queue's
// workers and limiter, and the store are made once. A reload applies
// every other key and reports a change to one of these as not applied,
// restart needed. A key naming a section covers every key under it.
//
// This is the one list: the reload answer and log are made from it, and
// test/deploy checks that CONFIGURATION.md and the README state it.
var RestartKeys = []string{"listen", "log_level", "delivery", "store"}

// NotApplied lists the keys under RestartKeys whose values differ between
// the config the relay started with and next, each as its full path
// ("delivery.workers"). Only the keys are returned, never their values:
// store.dsn is a secret.
func NotApplied(started, next *Config) []string {
	var out []string
	a, b := reflect.ValueOf(started).Elem(), reflect.ValueOf(next).Elem()
	for _, key := range RestartKeys {
		fa, ok1 := fieldByPath(a, key)
		fb, ok2 := fieldByPath(b, key)
		if !ok1 || !ok2 {
			continue
		}
		diffLeaves(key, fa, fb, &out)
	}
	return out
}

// RestartKeysDoc is RestartKeys as the docs write them: `delivery.*` for
// a section.
func RestartKeysDoc() []string {
	var out []string
	c := reflect.ValueOf(Config{})
	for _, key := range RestartKeys {
		if f, ok := fieldByPath(c, key); ok && structOf(f.Type()) != nil && f.Type() != durationType {
			key += ".*"
		}
		out = append(out, key)
	}
	return out
}

// fieldByPath finds the field of a dotted YAML key path in a Config value.
func fieldByPath(v reflect.Value, path string) (reflect.Value, bool) {
	for _, name := range strings.Split(path, ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		found := false
		for _, f := range fieldsOf(v.Type()) {
			if f.name == name {
				v, found = v.Field(f.index), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

// diffLeaves appends the paths of the keys whose values differ.
func diffLeaves(path string, a, b reflect.Value, out *[]string) {
	if a.Kind() == reflect.Struct && a.Type() != durationType {
		for _, f := range fieldsOf(a.Type()) {
			diffLeaves(path+"."+f.name, a.Field(f.index), b.Field(f.index), out)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, path)
	}
}
