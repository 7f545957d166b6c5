package io.dijiang4j.tools.calibration;

import java.util.Arrays;
import java.util.List;

/**
 * Splits a fixed exact-token budget across layers: each layer has options (an integer cost, the exact tokens per
 * head, and a measured loss), and the plan picks one option per layer minimizing the summed loss with the summed
 * cost at most the budget (a multiple-choice knapsack, solved exactly by dynamic programming over the cost). The sum
 * is the right objective because layer costs are nearly additive (docs/MATH.md §5). Ties go to the smaller total
 * cost, then to the earlier option, so the plan is deterministic.
 */
final class BudgetPlanner {
    /** One choice for a layer. */
    record Option(int cost, double loss) {
        Option {
            if (cost < 0) throw new IllegalArgumentException("cost must be >= 0: " + cost);
            if (!Double.isFinite(loss)) throw new IllegalArgumentException("loss must be finite: " + loss);
        }
    }

    private BudgetPlanner() {}

    /**
     * The index of the chosen option of every layer.
     *
     * @throws IllegalArgumentException when even the cheapest options exceed the budget
     */
    static int[] plan(List<List<Option>> layers, int budget) {
        int n = layers.size();
        if (n == 0) return new int[0];
        if (budget < 0) throw new IllegalArgumentException("budget must be >= 0: " + budget);
        // best[i][b]: least loss of layers 0..i-1 at total cost exactly b; choice[i][b] the option of layer i-1
        double[][] best = new double[n + 1][budget + 1];
        int[][] choice = new int[n + 1][budget + 1];
        for (double[] row : best) Arrays.fill(row, Double.POSITIVE_INFINITY);
        best[0][0] = 0;
        for (int i = 0; i < n; i++) {
            List<Option> options = layers.get(i);
            if (options.isEmpty()) throw new IllegalArgumentException("layer " + i + " has no option");
            for (int b = 0; b <= budget; b++) {
                if (best[i][b] == Double.POSITIVE_INFINITY) continue;
                for (int o = 0; o < options.size(); o++) {
                    Option option = options.get(o);
                    int total = b + option.cost();
                    if (total > budget) continue;
                    double loss = best[i][b] + option.loss();
                    if (loss < best[i + 1][total]) {
                        best[i + 1][total] = loss;
                        choice[i + 1][total] = o;
                    }
                }
            }
        }
        int end = -1;
        for (int b = 0; b <= budget; b++) {
            if (best[n][b] < (end < 0 ? Double.POSITIVE_INFINITY : best[n][end])) end = b;
        }
        if (end < 0) {
            int cheapest = layers.stream()
                    .mapToInt(l -> l.stream().mapToInt(Option::cost).min().orElse(0))
                    .sum();
            throw new IllegalArgumentException(
                    "the budget of " + budget + " exact tokens is below the cheapest plan (" + cheapest + ")");
        }
        int[] plan = new int[n];
        for (int i = n, b = end; i > 0; i--) {
            plan[i - 1] = choice[i][b];
            b -= layers.get(i - 1).get(plan[i - 1]).cost();
        }
        return plan;
    }
}
