package jobcodec

import (
	"strconv"

	"github.com/callbridge/callbridge/internal/activityjson"
	"github.com/callbridge/callbridge/internal/jsonstr"
)

// appendPlain appends the record of a job that is no task, the bytes
// json.Marshal gives for its wire form (TestEncodeIsJSONMarshal,
// FuzzEncode): every activity the pipeline enqueues is written here, and
// encoding/json's reflection, and its second pass compacting the
// activity's own MarshalJSON, were most of an enqueue's encoding. lastError
// is already cut to MaxLastError.
func appendPlain(dst []byte, r *Record, lastError string) ([]byte, error) {
	dst = append(dst, `{"v":1,"a":`...)
	dst, err := activityjson.Append(dst, &r.Activity)
	if err != nil {
		return nil, err
	}
	if r.Open {
		dst = append(dst, `,"o":true`...)
	}
	if r.Attempt != 0 {
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendInt(dst, int64(r.Attempt), 10)
	}
	if lastError != "" {
		dst = append(dst, `,"e":`...)
		dst = jsonstr.Append(dst, lastError)
	}
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, r.EnqueuedAt.UnixMilli(), 10)
	return append(dst, '}'), nil
}
