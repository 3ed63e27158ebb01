package stream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SecurityConfig says how clients authenticate to external brokers and protect the connection: TLS
// (optionally with a client certificate) and SASL. Secrets are read from files, so they stay off command
// lines and out of the environment of every child process. The zero value is a plaintext, unauthenticated
// connection (the embedded broker, or a test cluster).
type SecurityConfig struct {
	TLS      bool   // connect over TLS
	CAFile   string // PEM certificates to verify the brokers with (default: the system's roots)
	CertFile string // client certificate (PEM), for brokers that authenticate clients by TLS
	KeyFile  string // its private key (PEM)
	// SASL is the mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 ("" for none).
	SASL         string
	User         string
	PasswordFile string // a file holding the SASL password (one line)
}

// SASLMechanisms are the mechanisms Security accepts.
var SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Security is a loaded SecurityConfig: the client options it makes. The zero value is plaintext.
type Security struct{ opts []kgo.Opt }

// Load checks the settings and reads the files.
func (s SecurityConfig) Load() (Security, error) {
	opts, err := s.options()
	if err != nil {
		return Security{}, fmt.Errorf("kafka: %w", err)
	}
	return Security{opts: opts}, nil
}

func (s SecurityConfig) options() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.TLS || s.CAFile != "" || s.CertFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--kafka-ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--kafka-ca %s: no PEM certificate in it", s.CAFile)
			}
		}
		if (s.CertFile == "") != (s.KeyFile == "") {
			return nil, errors.New("--kafka-cert and --kafka-key go together: a client certificate needs its key")
		}
		if s.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("--kafka-cert/--kafka-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if s.SASL == "" {
		if s.User != "" || s.PasswordFile != "" {
			return nil, errors.New("--kafka-user and --kafka-password-file need --kafka-sasl (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return opts, nil
	}
	if s.User == "" || s.PasswordFile == "" {
		return nil, fmt.Errorf("--kafka-sasl %s needs --kafka-user and --kafka-password-file", s.SASL)
	}
	data, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("--kafka-password-file: %w", err)
	}
	password := strings.TrimRight(string(data), "\r\n")
	if password == "" {
		return nil, fmt.Errorf("--kafka-password-file %s is empty", s.PasswordFile)
	}
	var m sasl.Mechanism
	switch strings.ToUpper(s.SASL) {
	case "PLAIN":
		m = plain.Auth{User: s.User, Pass: password}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: s.User, Pass: password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: s.User, Pass: password}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("--kafka-sasl %q: want one of %s", s.SASL, strings.Join(SASLMechanisms, ", "))
	}
	if !s.TLS && s.CAFile == "" && strings.EqualFold(s.SASL, "PLAIN") {
		return nil, errors.New("--kafka-sasl PLAIN sends the password as it is: use it with --kafka-tls")
	}
	return append(opts, kgo.SASL(m)), nil
}
