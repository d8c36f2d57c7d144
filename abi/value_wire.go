package abi

// DecodeValue decodes b, which must hold exactly one typed value (a tag
// byte and its payload, as in a row operation's columns). A string or bytes
// payload aliases b. Errors are *DecodeError with Record "value".
func DecodeValue(b []byte) (Value, error) {
	r := Reader{b: b, record: "value"}
	v := r.value("value")
	if err := r.End(); err != nil {
		return Value{}, err
	}
	return v, nil
}
