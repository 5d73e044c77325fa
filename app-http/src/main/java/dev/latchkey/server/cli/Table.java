package dev.latchkey.server.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * A plain text table of JSON objects, one row each, in columns wide enough for their values; a JSON null or a
 * missing field prints as {@code -}.
 */
final class Table
{
    private final List<String> headers;
    private final List<String> fields;

    /**
     * @param columns header, field, header, field, ...
     */
    Table(String... columns)
    {
        requireNonNull(columns, "columns is null");
        if (columns.length % 2 != 0) {
            throw new IllegalArgumentException("columns come in pairs of a header and a field");
        }
        List<String> headers = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        for (int i = 0; i < columns.length; i += 2) {
            headers.add(columns[i]);
            fields.add(columns[i + 1]);
        }
        this.headers = List.copyOf(headers);
        this.fields = List.copyOf(fields);
    }

    void print(JsonNode rows, PrintWriter out)
    {
        List<List<String>> cells = new ArrayList<>();
        cells.add(headers);
        for (JsonNode row : rows) {
            cells.add(fields.stream().map(field -> text(row.path(field))).toList());
        }
        int[] widths = new int[headers.size()];
        for (List<String> line : cells) {
            for (int column = 0; column < widths.length; column++) {
                widths[column] = Math.max(widths[column], line.get(column).length());
            }
        }
        for (List<String> line : cells) {
            StringBuilder text = new StringBuilder();
            for (int column = 0; column < widths.length; column++) {
                String cell = line.get(column);
                text.append(cell);
                if (column < widths.length - 1) {
                    text.append(" ".repeat(widths[column] - cell.length() + 2));
                }
            }
            out.println(text.toString().stripTrailing());
        }
    }

    static String text(JsonNode value)
    {
        if (value.isMissingNode() || value.isNull()) {
            return "-";
        }
        if (value.isArray()) {
            List<String> items = new ArrayList<>();
            value.forEach(item -> items.add(item.asText()));
            return String.join(" ", items);
        }
        return value.asText();
    }
}
