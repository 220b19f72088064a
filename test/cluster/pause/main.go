// Command pause holds a pod's namespaces open until it is told to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	// As PID 1 of a pod it may inherit orphans; reaping them keeps the process table clean.
	signal.Ignore(syscall.SIGCHLD)
	<-stop
}
