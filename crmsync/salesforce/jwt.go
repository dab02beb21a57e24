package salesforce

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"time"
)

// jwtLifetime is how long an assertion is valid. Salesforce wants exp
// within 3 minutes of issue (OAuth 2.0 JWT Bearer Flow for Server-to-Server
// Integration).
const jwtLifetime = 3 * time.Minute

// jwtAssertion signs the JWT of the bearer flow: RS256 over
// {"iss": consumer key, "sub": username, "aud": audience, "exp"}.
func jwtAssertion(key *rsa.PrivateKey, clientID, username, audience string, now time.Time) (string, error) {
	if key == nil {
		return "", errors.New("no private key")
	}
	head, _ := json.Marshal(map[string]string{"alg": "RS256"})
	claims, _ := json.Marshal(map[string]any{"iss": clientID, "sub": username, "aud": audience, "exp": now.Add(jwtLifetime).Unix()})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", errors.New("signing the assertion failed")
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// parseKey reads a PEM RSA private key, PKCS#1 or PKCS#8. Errors never
// quote the key.
func parseKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key (PKCS#1 or PKCS#8)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}
