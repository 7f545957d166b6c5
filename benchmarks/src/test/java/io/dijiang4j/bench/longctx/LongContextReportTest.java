package io.dijiang4j.bench.longctx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.bench.BenchReport;
import io.dijiang4j.bench.longctx.LongContextReport.EvalRow;
import io.dijiang4j.bench.longctx.LongContextReport.PasskeyTrial;
import io.dijiang4j.tools.eval.EvalResult;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LongContextReportTest {
    /** Two profiles, 2 lengths x 3 depths x 2 trials; "window" finds the passkey only at depth 90. */
    static List<PasskeyTrial> synthetic() {
        List<PasskeyTrial> trials = new ArrayList<>();
        for (String profile : List.of("vanilla", "window")) {
            for (int length : new int[] {1024, 4096}) {
                for (int depth : new int[] {10, 50, 90}) {
                    for (int trial = 0; trial < 2; trial++) {
                        boolean ok = profile.equals("vanilla") || depth == 90;
                        trials.add(new PasskeyTrial(
                                profile, length, depth, trial, 12345, length + 3, ok ? 12345 : -1, ok, 1.5));
                    }
                }
            }
        }
        return trials;
    }

    @Test
    void passkeyCsvRoundTripAndTable() {
        List<PasskeyTrial> trials = synthetic();
        String csv = LongContextReport.passkeyCsv(trials);
        assertEquals(trials, LongContextReport.readPasskeyCsv(csv));
        assertEquals(List.of(), LongContextReport.readPasskeyCsv(""));
        assertThrows(IllegalArgumentException.class, () -> LongContextReport.readPasskeyCsv("a,b\n1,2\n"));

        var cells = LongContextReport.cells(trials);
        assertEquals(List.of("vanilla", "window"), List.copyOf(cells.keySet()));
        assertEquals(1.0, cells.get("vanilla").get(List.of(4096, 10)).accuracy());
        assertEquals(0.0, cells.get("window").get(List.of(4096, 10)).accuracy());
        assertEquals(2, cells.get("window").get(List.of(4096, 90)).correct());

        String md = LongContextReport.passkeyMarkdown(trials);
        assertTrue(md.contains("| 1024 @10% | 1024 @50% | 1024 @90% | **1024 all** |"), md);
        assertTrue(md.contains("| vanilla | 2/2 | 2/2 | 2/2 | **100%** (6/6) |"), md);
        assertTrue(md.contains("| window | 0/2 | 0/2 | 2/2 | **33%** (2/6) |"), md);
    }

    @Test
    void evalCsvRoundTripAndTable() {
        var all = new EvalResult.Metrics(10.0, 11.0, 0.05, 0.2, 0.9, 8159);
        var beyond = new EvalResult.Metrics(10.0, 11.5, 0.06, 0.25, 0.88, 8031);
        var longRange = new EvalResult.Metrics(9.0, 12.0, 0.12, 0.5, 0.8, 377);
        var empty = new EvalResult.Metrics(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
        List<EvalRow> rows = List.of(
                new EvalRow("hybrid128", "genesis", 8160, 128, all, beyond, 321.5, longRange, 128),
                new EvalRow("window128", "genesis", 1024, 128, all, empty, 12.0, empty, 128));
        String csv = LongContextReport.evalCsv(rows);
        List<EvalRow> back = LongContextReport.readEvalCsv(csv);
        assertEquals(rows.get(0), back.get(0));
        assertEquals(0, back.get(1).beyond().tokens());
        assertTrue(Double.isNaN(back.get(1).beyond().klMean()));
        // a file written before the long-range columns is still read (no slice: span 0, no positions)
        String old = LongContextReport.EVAL_HEADER_BEFORE_LONG_RANGE + "\n"
                + "window128,genesis,1024,128,3.75677,4.35847,0.203170,0.755046,0.858969,1023,3.71077,4.39822,"
                + "0.232258,0.852571,0.838795,895,315.155\n";
        EvalRow before = LongContextReport.readEvalCsv(old).get(0);
        assertEquals(895, before.beyond().tokens());
        assertEquals(0, before.longRange().tokens());
        assertTrue(LongContextReport.evalMarkdown(List.of(before)).contains("| - | - | - | - |"));
        String md = LongContextReport.evalMarkdown(rows);
        // sorted by length within the corpus
        assertTrue(md.indexOf("| genesis | 1024 |") < md.indexOf("| genesis | 8160 |"), md);
        assertTrue(
                md.contains("| genesis | 8160 | hybrid128 | 10.000 | 11.000 | x1.100 | 0.0500 | 0.200 | 0.900 | 128 |"
                        + " x1.150 | 0.0600 | 0.880 | 128 | 377 | 0.1200 | 0.800 |"),
                md);
    }

    @Test
    void evalPlotHasTwoPanels(@TempDir Path dir) throws Exception {
        var m = new EvalResult.Metrics(10.0, 11.0, 0.05, 0.2, 0.9, 1023);
        List<EvalRow> rows = List.of(
                new EvalRow("hybrid128", "genesis", 1024, 128, m, m, 1.0, m, 128),
                new EvalRow("hybrid128", "genesis", 8160, 128, m, m, 1.0, m, 128),
                new EvalRow("window128", "genesis", 1024, 128, m, m, 1.0, m, 128));
        BufferedImage image = LongContextReport.evalPlot(rows, "genesis");
        assertEquals(2 * 640, image.getWidth());
        Path png = dir.resolve("eval.png");
        BenchReport.writePng(png, image);
        assertTrue(Files.size(png) > 1000);
    }

    @Test
    void heatMapsOnePanelPerProfile(@TempDir Path dir) throws Exception {
        BufferedImage image = LongContextReport.heatMaps(synthetic(), 3);
        assertEquals(2 * 420, image.getWidth()); // two profiles, fewer than the 3 columns
        assertEquals(360, image.getHeight());
        Path png = dir.resolve("passkey.png");
        BenchReport.writePng(png, image);
        BufferedImage back = ImageIO.read(png.toFile());
        assertEquals(image.getWidth(), back.getWidth());
        assertTrue(Files.size(png) > 1000);
        // 4 panels in rows of 3: two rows
        List<PasskeyTrial> four = new ArrayList<>(synthetic());
        for (String p : List.of("c", "d")) {
            four.add(new PasskeyTrial(p, 1024, 10, 0, 12345, 1027, -1, false, 1));
        }
        BufferedImage tiled = LongContextReport.heatMaps(four, 3);
        assertEquals(3 * 420, tiled.getWidth());
        assertEquals(2 * 360, tiled.getHeight());
    }
}
