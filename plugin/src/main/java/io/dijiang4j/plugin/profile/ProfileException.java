package io.dijiang4j.plugin.profile;

import java.nio.file.Path;

/** A profile that cannot be used: one line naming the file, the line and the key when they are known. */
public final class ProfileException extends IllegalArgumentException {
    public ProfileException(String message) {
        super(message);
    }

    public static ProfileException at(Path file, int line, String key, String message) {
        StringBuilder where = new StringBuilder();
        if (file != null) where.append(file);
        if (line > 0) where.append(where.isEmpty() ? "" : ":").append("line ").append(line);
        if (key != null)
            where.append(where.isEmpty() ? "" : ": ")
                    .append("key '")
                    .append(key)
                    .append("'");
        return new ProfileException(where.isEmpty() ? message : where + ": " + message);
    }
}
