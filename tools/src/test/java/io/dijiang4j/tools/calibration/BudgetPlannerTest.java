package io.dijiang4j.tools.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BudgetPlannerTest {
    static BudgetPlanner.Option o(int cost, double loss) {
        return new BudgetPlanner.Option(cost, loss);
    }

    @Test
    void spendsTheBudgetWhereItLowersTheLossMost() {
        // layer 1 gains 0.5 from 10 more tokens, layer 0 only 0.01: with 30 tokens, layer 1 gets the larger option
        List<List<BudgetPlanner.Option>> layers =
                List.of(List.of(o(10, 0.11), o(20, 0.10)), List.of(o(10, 0.9), o(20, 0.4)));
        assertArrayEquals(new int[] {0, 1}, BudgetPlanner.plan(layers, 30));
        assertArrayEquals(new int[] {1, 1}, BudgetPlanner.plan(layers, 40));
        assertArrayEquals(new int[] {0, 0}, BudgetPlanner.plan(layers, 29));
        assertThrows(IllegalArgumentException.class, () -> BudgetPlanner.plan(layers, 19));
    }

    @Test
    void equalLossesGoToTheCheaperPlan() {
        List<List<BudgetPlanner.Option>> layers = List.of(List.of(o(12, 0.5), o(8, 0.5)), List.of(o(4, 0.25)));
        assertArrayEquals(new int[] {1, 0}, BudgetPlanner.plan(layers, 100));
    }

    /** Against brute force over every combination, on random problems of 1..4 layers. */
    @Test
    void matchesBruteForceOnRandomProblems() {
        SplittableRandom random = new SplittableRandom(11);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + random.nextInt(4);
            List<List<BudgetPlanner.Option>> layers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                List<BudgetPlanner.Option> options = new ArrayList<>();
                int count = 1 + random.nextInt(5);
                for (int k = 0; k < count; k++) options.add(o(random.nextInt(1, 30), random.nextDouble()));
                layers.add(options);
            }
            int budget = random.nextInt(10, 30 * n);
            double best = bruteForce(layers, budget, 0, 0);
            if (best == Double.POSITIVE_INFINITY) {
                assertThrows(IllegalArgumentException.class, () -> BudgetPlanner.plan(layers, budget));
                continue;
            }
            int[] plan = BudgetPlanner.plan(layers, budget);
            double loss = 0;
            int cost = 0;
            for (int i = 0; i < n; i++) {
                loss += layers.get(i).get(plan[i]).loss();
                cost += layers.get(i).get(plan[i]).cost();
            }
            assertTrue(cost <= budget, "over budget");
            assertEquals(best, loss, 1e-12, "trial " + trial);
        }
    }

    private static double bruteForce(List<List<BudgetPlanner.Option>> layers, int budget, int layer, int spent) {
        if (spent > budget) return Double.POSITIVE_INFINITY;
        if (layer == layers.size()) return 0;
        double best = Double.POSITIVE_INFINITY;
        for (BudgetPlanner.Option option : layers.get(layer)) {
            best = Math.min(best, option.loss() + bruteForce(layers, budget, layer + 1, spent + option.cost()));
        }
        return best;
    }
}
