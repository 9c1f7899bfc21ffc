package tasks

import (
	"github.com/hibiken/asynq"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// asynqLogger adapts zap to asynq.Logger.
type asynqLogger struct{ s *zap.SugaredLogger }

func newAsynqLogger(l *zap.Logger) asynqLogger {
	return asynqLogger{s: l.Named("asynq").WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

func (l asynqLogger) Debug(args ...any) { l.s.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.s.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.s.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.s.Error(args...) }

// Fatal logs at error level: a library must not end the process (only main exits).
func (l asynqLogger) Fatal(args ...any) { l.s.Error(args...) }

// asynqLevel is the asynq log level matching what the zap logger lets through.
func asynqLevel(l *zap.Logger) asynq.LogLevel {
	switch core := l.Core(); {
	case core.Enabled(zapcore.DebugLevel):
		return asynq.DebugLevel
	case core.Enabled(zapcore.InfoLevel):
		return asynq.InfoLevel
	case core.Enabled(zapcore.WarnLevel):
		return asynq.WarnLevel
	}
	return asynq.ErrorLevel
}
