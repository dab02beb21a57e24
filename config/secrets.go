package config

import (
	"fmt"
	"reflect"
	"sort"
)

// NamedSecret is one secret of a config with the key that holds it.
type NamedSecret struct {
	Key   string
	Value Secret
}

// Secrets lists every secret c holds that is set: passwords, the Redis
// URL, tokens, connectors' secrets and header values, with the sources'
// and tokens' *_file secrets as read (a connector reads its own files
// when it is built). Keys are in the reference's form (crm[1].webhook.secret,
// crm[0].webhook.headers.X-Api-Key); the order is by key. It is what must
// never reach a log, an error or a command's output.
func (c *Config) Secrets() []NamedSecret {
	var out []NamedSecret
	secrets(reflect.ValueOf(c).Elem(), "", &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

var secretType = reflect.TypeFor[Secret]()

func secrets(v reflect.Value, path string, out *[]NamedSecret) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			secrets(v.Elem(), path, out)
		}
	case reflect.String:
		if v.Type() == secretType && v.Len() > 0 {
			*out = append(*out, NamedSecret{Key: path, Value: Secret(v.String())})
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := yamlName(f)
			if name == "-" {
				// Filled from a file or credential (the API's tokens):
				// named by the key it came from.
				name = f.Name
			}
			if f.Name == "Settings" && t.Name() == "ConnectorConfig" {
				// A connector's section is named after its type.
				if typ := v.FieldByName("Type"); typ.IsValid() {
					name = typ.String()
				}
			}
			secrets(v.Field(i), join(path, name), out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			secrets(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		for _, k := range keys {
			secrets(v.MapIndex(k), fmt.Sprintf("%s.%v", path, k), out)
		}
	}
}

// yamlName is a struct field's key.
func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			tag = tag[:i]
			break
		}
	}
	if tag == "" {
		return f.Name
	}
	return tag
}
