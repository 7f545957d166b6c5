package io.dijiang4j.plugin;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what one java.util.logging logger (and its children) publishes while open: the System.Logger records of
 * the plugin land there when no other logging backend is installed.
 */
public final class LogCapture extends Handler implements AutoCloseable {
    private final Logger logger;
    private final List<LogRecord> records = new ArrayList<>();

    private LogCapture(Logger logger) {
        this.logger = logger;
        logger.addHandler(this);
    }

    /** Starts capturing the records of the logger named {@code name}. */
    public static LogCapture of(String name) {
        return new LogCapture(Logger.getLogger(name));
    }

    /** How many records of {@code level} whose message contains {@code text} were published so far. */
    public synchronized long count(Level level, String text) {
        return records.stream()
                .filter(r -> r.getLevel() == level && r.getMessage().contains(text))
                .count();
    }

    @Override
    public synchronized void publish(LogRecord record) {
        records.add(record);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
        logger.removeHandler(this);
    }
}
