using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using WebLlm.Training.Data;

namespace WebLlm.Training.Tests;

public sealed class DataBuiltinCorpusTests
{
    [Fact]
    public void Extracts_prose_from_the_reference_pack()
    {
        var corpus = BuiltinCorpus.Locate();
        Assert.True(corpus.Files.Count > 50);
        Assert.Equal(corpus.Files.Order(StringComparer.Ordinal), corpus.Files);

        // A few files are enough to check the rendering and keep the test fast.
        var documents = corpus.Files.Where(f => Path.GetFileName(f) is "System.Runtime.xml" or "System.Collections.xml")
            .SelectMany(f => { using var s = File.OpenRead(f); return BuiltinCorpus.ReadDocuments(s).ToList(); })
            .ToList();
        Assert.True(documents.Count > 5000, $"only {documents.Count} documents");
        // '<' alone is legitimate prose ("'<' and '>' are wildcards"); tags are not.
        Assert.DoesNotContain(documents, d => Regex.IsMatch(d.Text, "</?(see|paramref|typeparamref|c|para|code|xref|summary|remarks|list|item)\\b"));
        Assert.All(documents, d => Assert.Equal(d.Text.Trim(), d.Text));
        Assert.DoesNotContain(documents, d => d.Text.Contains("  ", StringComparison.Ordinal) || d.Text.Contains('\n'));
        Assert.Contains(documents, d => d.Text.Contains(" String ", StringComparison.Ordinal));
        Assert.Contains(documents, d => d.Text.Contains(" null", StringComparison.Ordinal));
    }

    [Fact]
    public void Renders_references_as_names()
    {
        const string xml = """
            <doc><members>
              <member name="M:X.Y.Join(System.String,System.String[])">
                <summary>Joins <paramref name="values"/> with <see cref="T:System.String"/>, see
                  <see cref="M:System.String.Join(System.String,System.String[])"/> or <see cref="T:System.Collections.Generic.List`1"/>
                  of <typeparamref name="T"/>; returns <see langword="null"/> when <c>values</c> is empty.
                  <code>var x = 1;</code></summary>
                <param name="values">not prose</param>
                <remarks><para>Uses <xref data-throw-if-not-resolved="true" uid="System.Diagnostics.Activity"></xref>.</para><para>Second.</para></remarks>
              </member>
              <member name="T:X.Empty"><param name="a">nothing</param></member>
              <member name="M:X.Y.#ctor"><summary>Creates a <see cref="M:X.Y.#ctor"/> with <see cref="T:X.Y">a label</see>.</summary></member>
            </members></doc>
            """;
        var documents = BuiltinCorpus.ReadDocuments(new MemoryStream(Encoding.UTF8.GetBytes(xml))).ToList();
        Assert.Equal(
            [
                new CorpusDocument("M:X.Y.Join(System.String,System.String[])",
                    "Joins values with String, see Join or List of T; returns null when values is empty. Uses Activity. Second."),
                new CorpusDocument("M:X.Y.#ctor", "Creates a Y with a label."),
            ],
            documents);
    }

    [Fact]
    public void Whole_corpus_size_and_speed()
    {
        var watch = Stopwatch.StartNew();
        long chars = 0;
        var count = 0;
        foreach (var file in BuiltinCorpus.Locate().Files)
        {
            using var stream = File.OpenRead(file);
            foreach (var document in BuiltinCorpus.ReadDocuments(stream))
            {
                chars += document.Text.Length;
                count++;
            }
        }

        // About 5.1 M chars (1.4 M GPT-2 tokens) in the 10.0 SDK; other versions differ a little.
        Assert.InRange(chars, 3_000_000, 30_000_000);
        Assert.True(count > 30_000, $"{count} documents");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }
}
