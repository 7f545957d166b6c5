package io.dijiang4j.plugin.generation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Constrained decoding to JSON: at each step only tokens whose text keeps the output a prefix of a JSON value of the
 * given {@link JsonShape} may be picked, and the end token only once the value is complete; so the output always
 * parses, compact or with whitespace between tokens as the model writes it.
 *
 * <p>The output is tracked by a pushdown automaton over characters (a stack of frames: value, object, array,
 * string, enumeration, number, literal), each frame knowing how many characters at least close it. That count
 * keeps the value finishable within the token budget: a token is allowed only if the shortest completion after it
 * still fits in the tokens left, counting one token per character (every structural character, digit and letter
 * has a token of its own in the vocabularies this runs on). A token whose text depends on the tokens before it
 * (byte pieces Jlama buffers, {@link Vocabulary#stableText}) is never allowed.
 */
public final class JsonConstraint implements TokenConstraint {
    private static final Map<Vocabulary, Pieces> PIECES = Collections.synchronizedMap(new WeakHashMap<>());

    private final Vocabulary vocabulary;
    private final int budget;
    private List<Frame> stack = new ArrayList<>();
    private int generated;
    private Pieces pieces;

    /** The stable texts of a vocabulary, and which may stand inside a string as they are (no quote, no escape). */
    private record Pieces(String[] texts, boolean[] plain) {
        static Pieces of(Vocabulary vocabulary, int size) {
            String[] texts = new String[size];
            boolean[] plain = new boolean[size];
            for (int token = 0; token < size; token++) {
                String text = vocabulary.stableText(token);
                texts[token] = text;
                plain[token] = text != null
                        && !text.isEmpty()
                        && text.chars().noneMatch(c -> c == '"' || c == '\\' || c < 0x20);
            }
            return new Pieces(texts, plain);
        }
    }

    /**
     * @param shape what the output must be ({@link JsonShape.AnyObject} for plain JSON mode)
     * @param budget the most tokens the output may take (the generation's max tokens)
     */
    public JsonConstraint(Vocabulary vocabulary, JsonShape shape, int budget) {
        this.vocabulary = vocabulary;
        this.budget = budget;
        stack.add(new ValueFrame(shape));
    }

    /** Whether the output so far is a whole value. */
    public boolean complete() {
        return complete(stack);
    }

    @Override
    public void mask(float[] logits) {
        Pieces pieces = pieces(logits.length);
        int left = budget - generated - 1; // tokens after this one
        boolean done = complete(stack);
        // inside a string, a piece without quote or backslash stays inside it and leaves the rest as it is
        boolean inString =
                !stack.isEmpty() && stack.get(stack.size() - 1) instanceof StringFrame string && string.escape < 0;
        boolean plainFits = inString && rest(stack) <= left;
        byte[] rejected = new byte[128 + 128 * 128]; // by first character, then by first two
        boolean any = false;
        for (int token = 0; token < logits.length; token++) {
            boolean allowed;
            if (vocabulary.isEndToken(token)) {
                allowed = done;
            } else if (inString && pieces.plain[token]) {
                allowed = plainFits;
            } else {
                String text = pieces.texts[token];
                allowed = text != null && !text.isEmpty() && !done && admits(text, left, rejected);
            }
            if (allowed) any = true;
            else logits[token] = Float.NEGATIVE_INFINITY;
        }
        if (!any) {
            throw new IllegalStateException("no token continues the JSON output within " + budget
                    + " tokens (the shortest value of the schema needs " + rest(stack) + " more characters)");
        }
    }

    /**
     * Whether a piece may come next: fed to a copy of the automaton, its shortest completion within {@code left}
     * tokens. Rejections by the first character, or the first two (ASCII), are remembered for the step: most of a
     * large vocabulary shares them.
     */
    private boolean admits(String text, int left, byte[] rejected) {
        char first = text.charAt(0);
        int one = first < 128 ? first : -1;
        int two = one >= 0 && text.length() > 1 && text.charAt(1) < 128 ? 128 + one * 128 + text.charAt(1) : -1;
        if ((one >= 0 && rejected[one] != 0) || (two >= 0 && rejected[two] != 0)) return false;
        List<Frame> trial = copy(stack);
        for (int i = 0; i < text.length(); i++) {
            if (!feed(trial, text.charAt(i))) {
                if (i == 0 && one >= 0) rejected[one] = 1;
                if (i == 1 && two >= 0) rejected[two] = 1;
                return false;
            }
        }
        return rest(trial) <= left;
    }

    @Override
    public void accept(int token) {
        if (vocabulary.isEndToken(token)) return;
        String text = pieces != null ? pieces.texts[token] : vocabulary.stableText(token);
        for (int i = 0; i < text.length(); i++) {
            if (!feed(stack, text.charAt(i))) {
                throw new IllegalStateException("token " + token + " does not continue the JSON output");
            }
        }
        generated++;
    }

    private Pieces pieces(int size) {
        if (pieces == null || pieces.texts.length != size) {
            pieces = PIECES.compute(
                    vocabulary, (v, known) -> known != null && known.texts.length == size ? known : Pieces.of(v, size));
        }
        return pieces;
    }

    private static boolean complete(List<Frame> stack) {
        return stack.isEmpty() || (stack.size() == 1 && stack.get(0) instanceof NumberFrame n && n.complete());
    }

    private static int rest(List<Frame> stack) {
        int n = 0;
        for (Frame frame : stack) n += frame.rest();
        return n;
    }

    private static List<Frame> copy(List<Frame> stack) {
        List<Frame> out = new ArrayList<>(stack.size() + 4);
        for (Frame frame : stack) out.add(frame.copy());
        return out;
    }

    /** Feeds one character; false if no JSON value of the shape continues so. */
    static boolean feed(List<Frame> stack, char c) {
        while (!stack.isEmpty()) {
            Frame top = stack.get(stack.size() - 1);
            switch (top.feed(c, stack)) {
                case CONSUMED:
                    return true;
                case DONE:
                    stack.remove(stack.size() - 1);
                    return true;
                case INVALID:
                    return false;
                case PASS:
                    stack.remove(stack.size() - 1);
                    break; // the parent reads c
                case RETRY:
                    break; // a child was pushed (or the frame replaced): it reads c
            }
        }
        return false; // the value is complete: nothing may follow
    }

    private static boolean whitespace(char c) {
        return c == ' ' || c == '\n' || c == '\t' || c == '\r';
    }

    enum Step {
        CONSUMED,
        DONE,
        INVALID,
        PASS,
        RETRY
    }

    abstract static class Frame {
        abstract Step feed(char c, List<Frame> stack);

        /** Characters that at least close this frame once the frames above it are closed. */
        abstract int rest();

        abstract Frame copy();
    }

    /** Expects one value of a shape (whitespace first allowed); replaced by the frame of the value it starts. */
    static final class ValueFrame extends Frame {
        final JsonShape shape;

        ValueFrame(JsonShape shape) {
            this.shape = shape;
        }

        @Override
        Step feed(char c, List<Frame> stack) {
            if (whitespace(c)) return Step.CONSUMED;
            Frame next = start(c);
            if (next == null) return Step.INVALID;
            stack.set(stack.size() - 1, next);
            return next instanceof NumberFrame ? Step.RETRY : Step.CONSUMED;
        }

        private Frame start(char c) {
            boolean numberStart = c == '-' || (c >= '0' && c <= '9');
            return switch (shape) {
                case JsonShape.AnyValue any ->
                    switch (c) {
                        case '{' -> new ObjectFrame((JsonShape.ObjectOf) null);
                        case '[' -> new ArrayFrame(new JsonShape.AnyValue());
                        case '"' -> new StringFrame();
                        case 't' -> new LiteralFrame("true", 1);
                        case 'f' -> new LiteralFrame("false", 1);
                        case 'n' -> new LiteralFrame("null", 1);
                        default -> numberStart ? new NumberFrame(false) : null;
                    };
                case JsonShape.AnyObject object -> c == '{' ? new ObjectFrame((JsonShape.ObjectOf) null) : null;
                case JsonShape.ObjectOf object -> c == '{' ? new ObjectFrame(object) : null;
                case JsonShape.ArrayOf array -> c == '[' ? new ArrayFrame(array.items()) : null;
                case JsonShape.StringValue string -> c == '"' ? new StringFrame() : null;
                case JsonShape.OneOf oneOf -> c == '"' ? new EnumFrame(oneOf.values(), "") : null;
                case JsonShape.IntegerValue integer -> numberStart ? new NumberFrame(true) : null;
                case JsonShape.NumberValue number -> numberStart ? new NumberFrame(false) : null;
                case JsonShape.BooleanValue bool ->
                    c == 't' ? new LiteralFrame("true", 1) : c == 'f' ? new LiteralFrame("false", 1) : null;
                case JsonShape.NullValue none -> c == 'n' ? new LiteralFrame("null", 1) : null;
            };
        }

        @Override
        int rest() {
            return JsonShape.shortest(shape);
        }

        @Override
        Frame copy() {
            return this; // immutable
        }
    }

    /** An object: of any keys ({@code shape} null), or of a shape's properties in order. */
    static final class ObjectFrame extends Frame {
        static final int OPEN = 0, KEY = 1, COLON = 2, AFTER_VALUE = 3;
        final JsonShape.ObjectOf shape;
        final List<String> keys;
        final List<JsonShape> values;
        int phase = OPEN;
        int index; // the property being written (shaped objects)

        ObjectFrame(JsonShape.ObjectOf shape) {
            this.shape = shape;
            this.keys =
                    shape == null ? List.of() : List.copyOf(shape.properties().keySet());
            this.values =
                    shape == null ? List.of() : List.copyOf(shape.properties().values());
        }

        private ObjectFrame(ObjectFrame other) {
            this.shape = other.shape;
            this.keys = other.keys;
            this.values = other.values;
            this.phase = other.phase;
            this.index = other.index;
        }

        @Override
        Step feed(char c, List<Frame> stack) {
            if (whitespace(c)) return Step.CONSUMED;
            boolean free = shape == null;
            switch (phase) {
                case OPEN, KEY -> {
                    if (c == '}' && phase == OPEN && (free || keys.isEmpty())) return Step.DONE;
                    if (c != '"' || (!free && index >= keys.size())) return Step.INVALID;
                    stack.add(free ? new StringFrame() : new EnumFrame(List.of(keys.get(index)), ""));
                    phase = COLON;
                    return Step.CONSUMED;
                }
                case COLON -> {
                    if (c != ':') return Step.INVALID;
                    stack.add(new ValueFrame(free ? new JsonShape.AnyValue() : values.get(index)));
                    phase = AFTER_VALUE;
                    return Step.CONSUMED;
                }
                default -> {
                    if (c == ',' && (free || index + 1 < keys.size())) {
                        index++;
                        phase = KEY;
                        return Step.CONSUMED;
                    }
                    return c == '}' && (free || index + 1 == keys.size()) ? Step.DONE : Step.INVALID;
                }
            }
        }

        @Override
        int rest() {
            if (shape == null) {
                return switch (phase) {
                    case OPEN, AFTER_VALUE -> 1; // }
                    case KEY -> 5; // "":0}
                    default -> 3; // :0}
                };
            }
            return switch (phase) {
                case OPEN -> keys.isEmpty() ? 1 : keyAndTail(0);
                case KEY -> keyAndTail(index);
                case COLON -> tail(index);
                default -> after(index);
            };
        }

        private int keyAndTail(int i) {
            return keys.get(i).length() + 2 + tail(i);
        }

        /** From the colon of property i to the closing brace. */
        private int tail(int i) {
            return 1 + JsonShape.shortest(values.get(i)) + after(i);
        }

        /** From after the value of property i to the closing brace. */
        private int after(int i) {
            return i + 1 < keys.size() ? 1 + keyAndTail(i + 1) : 1;
        }

        @Override
        Frame copy() {
            return new ObjectFrame(this);
        }
    }

    static final class ArrayFrame extends Frame {
        static final int OPEN = 0, VALUE = 1, AFTER_VALUE = 2;
        final JsonShape items;
        int phase = OPEN;

        ArrayFrame(JsonShape items) {
            this.items = items;
        }

        @Override
        Step feed(char c, List<Frame> stack) {
            if (whitespace(c)) return Step.CONSUMED;
            if (phase == AFTER_VALUE) {
                if (c == ',') {
                    phase = VALUE;
                    return Step.CONSUMED;
                }
                return c == ']' ? Step.DONE : Step.INVALID;
            }
            if (c == ']' && phase == OPEN) return Step.DONE;
            stack.add(new ValueFrame(items));
            phase = AFTER_VALUE;
            return Step.RETRY;
        }

        @Override
        int rest() {
            return phase == VALUE ? JsonShape.shortest(items) + 1 : 1;
        }

        @Override
        Frame copy() {
            ArrayFrame copy = new ArrayFrame(items);
            copy.phase = phase;
            return copy;
        }
    }

    static final class StringFrame extends Frame {
        int escape = -1; // -1 none, 0 after a backslash, 1..4 hex digits still due

        @Override
        Step feed(char c, List<Frame> stack) {
            if (escape == 0) {
                if (c == 'u') escape = 4;
                else if ("\"\\/bfnrt".indexOf(c) >= 0) escape = -1;
                else return Step.INVALID;
                return Step.CONSUMED;
            }
            if (escape > 0) {
                if (Character.digit(c, 16) < 0) return Step.INVALID;
                escape = escape == 1 ? -1 : escape - 1;
                return Step.CONSUMED;
            }
            if (c == '"') return Step.DONE;
            if (c == '\\') escape = 0;
            else if (c < 0x20) return Step.INVALID;
            return Step.CONSUMED;
        }

        @Override
        int rest() {
            return escape < 0 ? 1 : escape == 0 ? 2 : escape + 1;
        }

        @Override
        Frame copy() {
            StringFrame copy = new StringFrame();
            copy.escape = escape;
            return copy;
        }
    }

    /** A string that must be one of fixed values (an enumeration, or a shaped object's key). */
    static final class EnumFrame extends Frame {
        final List<String> values;
        final String typed;

        EnumFrame(List<String> values, String typed) {
            this.values = values;
            this.typed = typed;
        }

        @Override
        Step feed(char c, List<Frame> stack) {
            if (c == '"') return values.contains(typed) ? Step.DONE : Step.INVALID;
            String next = typed + c;
            for (String value : values) {
                if (value.startsWith(next)) {
                    stack.set(stack.size() - 1, new EnumFrame(values, next));
                    return Step.CONSUMED;
                }
            }
            return Step.INVALID;
        }

        @Override
        int rest() {
            int best = Integer.MAX_VALUE;
            for (String value : values) {
                if (value.startsWith(typed)) best = Math.min(best, value.length() - typed.length() + 1);
            }
            return best;
        }

        @Override
        Frame copy() {
            return this; // immutable: feed replaces it
        }
    }

    static final class NumberFrame extends Frame {
        static final int START = 0, MINUS = 1, ZERO = 2, INT = 3, DOT = 4, FRAC = 5, E = 6, E_SIGN = 7, EXP = 8;
        final boolean integer;
        int state = START;

        NumberFrame(boolean integer) {
            this.integer = integer;
        }

        boolean complete() {
            return state == ZERO || state == INT || state == FRAC || state == EXP;
        }

        @Override
        Step feed(char c, List<Frame> stack) {
            boolean digit = c >= '0' && c <= '9';
            int next = switch (state) {
                case START -> c == '-' ? MINUS : c == '0' ? ZERO : digit ? INT : -1;
                case MINUS -> c == '0' ? ZERO : digit ? INT : -1;
                case ZERO, INT, FRAC -> {
                    if (digit && state != ZERO) yield state;
                    if (c == '.' && state != FRAC && !integer) yield DOT;
                    if ((c == 'e' || c == 'E') && !integer) yield E;
                    yield -1;
                }
                case DOT -> digit ? FRAC : -1;
                case E -> c == '+' || c == '-' ? E_SIGN : digit ? EXP : -1;
                case E_SIGN, EXP -> digit ? EXP : -1;
                default -> -1;
            };
            if (next >= 0) {
                state = next;
                return Step.CONSUMED;
            }
            return complete() ? Step.PASS : Step.INVALID;
        }

        @Override
        int rest() {
            return complete() ? 0 : 1;
        }

        @Override
        Frame copy() {
            NumberFrame copy = new NumberFrame(integer);
            copy.state = state;
            return copy;
        }
    }

    static final class LiteralFrame extends Frame {
        final String text;
        final int position;

        LiteralFrame(String text, int position) {
            this.text = text;
            this.position = position;
        }

        @Override
        Step feed(char c, List<Frame> stack) {
            if (c != text.charAt(position)) return Step.INVALID;
            if (position + 1 == text.length()) return Step.DONE;
            stack.set(stack.size() - 1, new LiteralFrame(text, position + 1));
            return Step.CONSUMED;
        }

        @Override
        int rest() {
            return text.length() - position;
        }

        @Override
        Frame copy() {
            return this; // immutable
        }
    }

    /** For tests: whether {@code text} is a prefix of a value of {@code shape} (true when it is a whole one). */
    static boolean isPrefix(JsonShape shape, String text) {
        List<Frame> stack = new ArrayList<>(List.of(new ValueFrame(shape)));
        for (int i = 0; i < text.length(); i++) {
            if (!feed(stack, text.charAt(i))) return false;
        }
        return true;
    }
}
