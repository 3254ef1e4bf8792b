// Package executor runs blocking work (calls into legacy code, file or database work done
// on a page's behalf) on a bounded pool of workers with a bounded queue, so a burst of slow
// tasks cannot pile up goroutines or memory: past the queue limit, work is refused at once.
package executor
