package gguf

import (
	"fmt"
	"math"
)

// KeyValue is one metadata entry. Value holds a Go value of the entry's
// type: uint8, int8, uint16, int16, uint32, int32, float32, bool, string,
// uint64, int64 or float64, and for arrays a slice of one of those
// ([]string, []int32, []float32, …).
type KeyValue struct {
	Key   string
	Value any
}

// KV returns the entry key = v, with the GGUF type taken from v's Go type
// (see KeyValue). It panics if v has no GGUF type: a programmer's mistake.
func KV(key string, v any) KeyValue {
	if _, _, err := typeOf(v); err != nil {
		panic(fmt.Sprintf("gguf: key %q: %v", key, err))
	}
	return KeyValue{Key: key, Value: v}
}

// Type is the GGUF type of the value; for an array, TypeArray and the type
// of its elements.
func (kv KeyValue) Type() (typ, elem ValueType) {
	t, e, _ := typeOf(kv.Value)
	return t, e
}

func typeOf(v any) (ValueType, ValueType, error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, nil
	case int8:
		return TypeInt8, 0, nil
	case uint16:
		return TypeUint16, 0, nil
	case int16:
		return TypeInt16, 0, nil
	case uint32:
		return TypeUint32, 0, nil
	case int32:
		return TypeInt32, 0, nil
	case float32:
		return TypeFloat32, 0, nil
	case bool:
		return TypeBool, 0, nil
	case string:
		return TypeString, 0, nil
	case uint64:
		return TypeUint64, 0, nil
	case int64:
		return TypeInt64, 0, nil
	case float64:
		return TypeFloat64, 0, nil
	case []uint8:
		return TypeArray, TypeUint8, nil
	case []int8:
		return TypeArray, TypeInt8, nil
	case []uint16:
		return TypeArray, TypeUint16, nil
	case []int16:
		return TypeArray, TypeInt16, nil
	case []uint32:
		return TypeArray, TypeUint32, nil
	case []int32:
		return TypeArray, TypeInt32, nil
	case []float32:
		return TypeArray, TypeFloat32, nil
	case []bool:
		return TypeArray, TypeBool, nil
	case []string:
		return TypeArray, TypeString, nil
	case []uint64:
		return TypeArray, TypeUint64, nil
	case []int64:
		return TypeArray, TypeInt64, nil
	case []float64:
		return TypeArray, TypeFloat64, nil
	}
	return 0, 0, fmt.Errorf("value of Go type %T has no GGUF type", v)
}

// Int returns an integer value of any GGUF integer type as int64.
func (kv KeyValue) Int() (int64, bool) {
	switch v := kv.Value.(type) {
	case uint8:
		return int64(v), true
	case int8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case int16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case int32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// Float returns a float value (f32 or f64) as float64.
func (kv KeyValue) Float() (float64, bool) {
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// Ints returns an array of any integer type as []int64.
func (kv KeyValue) Ints() ([]int64, bool) {
	var out []int64
	switch v := kv.Value.(type) {
	case []uint8:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []int8:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []uint16:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []int16:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []uint32:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []int32:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []uint64:
		for _, x := range v {
			if x > math.MaxInt64 {
				return nil, false
			}
			out = append(out, int64(x))
		}
	case []int64:
		out = append(out, v...)
	default:
		return nil, false
	}
	return out, true
}

// Len is the number of elements of an array value, 1 for a scalar.
func (kv KeyValue) Len() int {
	switch v := kv.Value.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	}
	return 1
}

// Metadata is the ordered list of a file's key/values.
type Metadata []KeyValue

// Lookup returns the entry with the given key.
func (m Metadata) Lookup(key string) (KeyValue, bool) {
	for _, kv := range m {
		if kv.Key == key {
			return kv, true
		}
	}
	return KeyValue{}, false
}

// String returns the string value of key, or an error saying it is missing
// or of another type.
func (m Metadata) String(key string) (string, error) {
	kv, ok := m.Lookup(key)
	if !ok {
		return "", fmt.Errorf("key %q is missing", key)
	}
	s, ok := kv.Value.(string)
	if !ok {
		return "", fmt.Errorf("key %q is %s, want string", key, typeName(kv))
	}
	return s, nil
}

// Int returns the integer value of key, of any GGUF integer type.
func (m Metadata) Int(key string) (int64, error) {
	kv, ok := m.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("key %q is missing", key)
	}
	n, ok := kv.Int()
	if !ok {
		return 0, fmt.Errorf("key %q is %s, want an integer", key, typeName(kv))
	}
	return n, nil
}

// Float returns the float value of key (f32 or f64).
func (m Metadata) Float(key string) (float64, error) {
	kv, ok := m.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("key %q is missing", key)
	}
	f, ok := kv.Float()
	if !ok {
		return 0, fmt.Errorf("key %q is %s, want a float", key, typeName(kv))
	}
	return f, nil
}

// Bool returns the bool value of key.
func (m Metadata) Bool(key string) (bool, error) {
	kv, ok := m.Lookup(key)
	if !ok {
		return false, fmt.Errorf("key %q is missing", key)
	}
	b, ok := kv.Value.(bool)
	if !ok {
		return false, fmt.Errorf("key %q is %s, want bool", key, typeName(kv))
	}
	return b, nil
}

// Strings returns the string array value of key.
func (m Metadata) Strings(key string) ([]string, error) {
	kv, ok := m.Lookup(key)
	if !ok {
		return nil, fmt.Errorf("key %q is missing", key)
	}
	s, ok := kv.Value.([]string)
	if !ok {
		return nil, fmt.Errorf("key %q is %s, want an array of strings", key, typeName(kv))
	}
	return s, nil
}

func typeName(kv KeyValue) string {
	t, e, err := typeOf(kv.Value)
	if err != nil {
		return fmt.Sprintf("%T", kv.Value)
	}
	if t == TypeArray {
		return "an array of " + e.String()
	}
	return t.String()
}
