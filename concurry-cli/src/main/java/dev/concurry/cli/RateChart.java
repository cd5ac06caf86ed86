package dev.concurry.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.xy.DefaultXYDataset;

/** Charts of admitted rate over time against the limit, drawn with JFreeChart into PNG files. */
final class RateChart {
    private RateChart() {
    }

    /** Writes the tokens-per-minute chart of the given runs to {@code file} and returns its path. */
    static Path tokensPerMinute(Path file, List<LlmScenario.Result> runs) throws IOException {
        System.setProperty("java.awt.headless", "true");
        DefaultXYDataset data = new DefaultXYDataset();
        for (LlmScenario.Result run : runs) {
            data.addSeries(run.limited() ? "with Concurry limits" : "without limits",
                    run.tokensPerMinuteOverTime(Duration.ofMillis(50)));
        }
        JFreeChart chart = ChartFactory.createXYLineChart(
                "Tokens used in the trailing minute (1 minute = " + runs.getFirst().minute().toMillis()
                        + " ms)",
                "seconds since start", "tokens per minute", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        ValueMarker limit = new ValueMarker(LlmScenario.TOKENS_PER_MINUTE, Color.DARK_GRAY,
                new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        limit.setLabel("limit " + LlmScenario.TOKENS_PER_MINUTE);
        limit.setLabelAnchor(org.jfree.chart.ui.RectangleAnchor.TOP_RIGHT);
        limit.setLabelTextAnchor(org.jfree.chart.ui.TextAnchor.BOTTOM_RIGHT);
        limit.setLabelOffset(new org.jfree.chart.ui.RectangleInsets(2, 2, 2, 8));
        plot.addRangeMarker(limit);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        Files.createDirectories(file.toAbsolutePath().getParent());
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, 450);
        return file.toAbsolutePath();
    }
}
