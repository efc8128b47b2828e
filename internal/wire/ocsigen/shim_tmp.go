package ocsigen

import "errors"

// ErrTooManyChannels is temporary (replaced by the wt-leaf branch).
var ErrTooManyChannels = errors.New("ocsigen: too many channels")

// DecodeRegistrationMax is temporary (replaced by the wt-leaf branch).
func DecodeRegistrationMax(body []byte, max int) ([]string, error) {
	ids, err := DecodeRegistration(body)
	if err == nil && len(ids) > max {
		return nil, ErrTooManyChannels
	}
	return ids, err
}
