package main

import (
	"errors"
	"reflect"
	"strings"

	envparse "github.com/caarlos0/env/v11"
)

// configVarError is a parse error of the environment that names the variables at
// fault: the parser names the Go fields ("UpstreamRate"), which users never see.
type configVarError struct {
	msg string
	err error // the parser's error, for errors.As
}

func (e *configVarError) Error() string { return e.msg }
func (e *configVarError) Unwrap() error { return e.err }

// nameConfigVars rewrites the parser's errors about config's fields to name their
// environment variables: `UPSTREAM_RATE: strconv.ParseFloat: parsing "abc": invalid
// syntax`. Other errors are returned as they are.
func nameConfigVars(err error) error {
	var agg envparse.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	vars := map[string]string{}
	configVars(reflect.TypeFor[config](), vars)
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe envparse.ParseError
		if errors.As(e, &pe) && vars[pe.Name] != "" {
			msgs = append(msgs, vars[pe.Name]+": "+pe.Err.Error())
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return &configVarError{msg: strings.Join(msgs, "; "), err: err}
}

// configVars maps the Go field names of a config struct, nested ones included, to their
// variables' names (the first field of a name wins).
func configVars(t reflect.Type, out map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			if _, dup := out[f.Name]; !dup {
				out[f.Name] = name
			}
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			configVars(f.Type, out)
		}
	}
}
