using System.Text;
using System.Text.Json;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Tests;

public sealed class DataPreparerTests(Gpt2Fixture gpt2) : IClassFixture<Gpt2Fixture>, IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Char_dataset_from_a_text_file()
    {
        var text = string.Concat(Enumerable.Repeat("To be, or not to be: that is the question.\n", 10));
        var input = _dir.WriteText("input.txt", text);
        var output = _dir.File("data");

        var meta = DataPreparer.Prepare(new DataPrepRequest(input, output, "char"));

        Assert.Equal(text.Length, meta.TrainTokens + meta.ValTokens);
        Assert.Equal((long)Math.Floor(text.Length * 0.9), meta.TrainTokens);
        Assert.Equal(new string(text.Distinct().Order().ToArray()), meta.Tokenizer.Vocabulary);
        Assert.Equal(meta.Tokenizer.Vocabulary!.Length, meta.VocabSize);
        Assert.Equal(1, meta.Documents);
        Assert.Equal(input, meta.Source);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(input))), meta.SourceSha256);

        var dataset = Dataset.Load(output);
        Assert.Equal(text, dataset.Tokenizer.Decode(AllTokens(dataset)));
        Assert.Equal(["meta.json", "train.bin", "val.bin"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        Assert.Equal([Path.GetFileName(output), "input.txt"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Bpe_dataset_trains_its_tokenizer_on_the_training_text_and_carries_it()
    {
        // The last tenth (validation) is a word the training text never has: the tokenizer must not have learnt it.
        var text = string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 90)) + new string(' ', 1)
            + string.Concat(Enumerable.Repeat("zyzzyva ", 50)); // 400 of 4,451 characters: inside the last tenth
        var input = _dir.WriteText("input.txt", text);
        var output = _dir.File("data");

        var meta = DataPreparer.Prepare(new DataPrepRequest(input, output, TokenizerSpec.BpeKind) { VocabSize = 300, ChatTokens = true });

        Assert.Equal(TokenizerSpec.BpeKind, meta.Tokenizer.Kind);
        // At most what was asked: this text runs out of pairs first, with every word of it one token.
        Assert.InRange(meta.VocabSize, 290, 300);
        Assert.Equal(["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"], meta.Tokenizer.SpecialTokens!);
        Assert.Equal(["meta.json", BpeTokenizer.FileName, "train.bin", "val.bin"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        // tokenizer.tiktoken is the ranks meta.json holds, and its SHA-256 is the one recorded.
        var file = File.ReadAllBytes(Path.Combine(output, BpeTokenizer.FileName));
        Assert.Equal(meta.Tokenizer.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file)));
        var bpe = (BpeTokenizer)Tokenizer.Create(DatasetMeta.Load(output).Tokenizer);
        Assert.DoesNotContain(bpe.Bpe.Vocabulary, t => System.Text.Encoding.UTF8.GetString(t).Contains("zz", StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetString(t).Contains("yv", StringComparison.Ordinal));
        Assert.Contains(bpe.Bpe.Vocabulary, t => System.Text.Encoding.UTF8.GetString(t) == " quick");

        var dataset = Dataset.Load(output);
        Assert.Equal(bpe.EndOfText, AllTokens(dataset)[0]); // documents start after <|endoftext|>, as with gpt2
        Assert.Equal(text, dataset.Tokenizer.Decode(AllTokens(dataset).AsSpan(1)));
        Assert.Throws<ArgumentException>(() => DataPreparer.Prepare(new DataPrepRequest(input, _dir.File("big"), TokenizerSpec.BpeKind) { VocabSize = 70_000 }));
        Assert.False(Directory.Exists(_dir.File("big")));
    }

    [Fact]
    public void Korean_text_takes_at_least_two_times_fewer_tokens_with_its_own_bpe_than_with_gpt2()
    {
        var input = _dir.WriteText("korean.txt", KoreanText(seed: 7, sentences: 4000));
        var gpt2Meta = DataPreparer.Prepare(new DataPrepRequest(input, _dir.File("gpt2"), TokenizerSpec.Gpt2Kind) { Gpt2Vocab = gpt2.Vocab });
        var bpeMeta = DataPreparer.Prepare(new DataPrepRequest(input, _dir.File("bpe"), TokenizerSpec.BpeKind) { VocabSize = 4096 });

        // Measured on the validation text, which the bpe tokenizer was not learnt from.
        Assert.NotNull(gpt2Meta.ValBytesPerToken);
        Assert.NotNull(bpeMeta.ValBytesPerToken);
        Assert.True(bpeMeta.ValBytesPerToken >= 2 * gpt2Meta.ValBytesPerToken,
            $"bpe {bpeMeta.ValBytesPerToken:F2} bytes a token, gpt2 {gpt2Meta.ValBytesPerToken:F2}");
        Assert.Equal(Encoding.UTF8.GetByteCount(Dataset.Load(_dir.File("bpe")).Tokenizer.Decode(Dataset.Load(_dir.File("bpe")).Val.Select(t => (int)t).ToArray())),
            bpeMeta.ValBytes);
    }

    /// <summary>Sentences of everyday Korean words in a seeded random order: text with words that repeat, as a book's do.</summary>
    internal static string KoreanText(int seed, int sentences)
    {
        string[] subjects = ["저는", "우리는", "친구가", "선생님께서", "아이들이", "할머니는", "동생이", "학생들은", "그 사람은", "회사 동료가"];
        string[] places = ["학교에서", "집에서", "도서관에서", "시장에서", "공원에서", "회사에서", "식당에서", "바닷가에서", "서울에서", "부산에서"];
        string[] objects = ["책을", "밥을", "음악을", "영화를", "편지를", "커피를", "사진을", "숙제를", "김치를", "노래를"];
        string[] verbs = ["읽었습니다", "먹었어요", "들었습니다", "봤어요", "썼습니다", "마셨어요", "찍었습니다", "했어요", "만들었습니다", "불렀어요"];
        string[] times = ["어제", "오늘 아침에", "주말에", "지난주에", "저녁에", "오랜만에", "매일", "가끔", "방금", "작년 여름에"];
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int i = 0; i < sentences; i++)
        {
            text.Append(times[random.Next(times.Length)]).Append(' ').Append(subjects[random.Next(subjects.Length)]).Append(' ')
                .Append(places[random.Next(places.Length)]).Append(' ').Append(objects[random.Next(objects.Length)]).Append(' ')
                .Append(verbs[random.Next(verbs.Length)]).Append(i % 5 == 4 ? ".\n" : ". ");
        }
        return text.ToString();
    }

    [Fact]
    public void Meta_json_is_camel_case_and_round_trips()
    {
        var input = _dir.WriteText("input.txt", "abcabc");
        var output = _dir.File("data");
        var meta = DataPreparer.Prepare(new DataPrepRequest(input, output, "char"));

        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "meta.json")));
        var root = json.RootElement;
        Assert.Equal("char", root.GetProperty("tokenizer").GetProperty("kind").GetString());
        Assert.Equal("abc", root.GetProperty("tokenizer").GetProperty("vocabulary").GetString());
        Assert.Equal(3, root.GetProperty("vocabSize").GetInt32());
        Assert.Equal(5, root.GetProperty("trainTokens").GetInt64());
        Assert.Equal(1, root.GetProperty("valTokens").GetInt64());
        Assert.True(root.TryGetProperty("sourceSha256", out _));
        Assert.True(root.TryGetProperty("createdUtc", out _));
        Assert.Equal(meta, DatasetMeta.Load(output));
    }

    [Fact]
    public void Gpt2_dataset_from_a_folder_puts_endoftext_before_each_document_in_path_order()
    {
        _dir.WriteText("in/b.txt", "Hello, world!");
        _dir.WriteText("in/sub/c.txt", " the");
        _dir.WriteText("in/a.txt", "Hello");
        _dir.WriteText("in/ignored.md", "not text");
        var output = _dir.File("data");

        var meta = DataPreparer.Prepare(new DataPrepRequest(_dir.File("in"), output, "gpt2") { Gpt2Vocab = gpt2.Vocab });

        var dataset = Dataset.Load(output, gpt2.Vocab);
        int[] expected = [50256, 15496, 50256, 15496, 11, 995, 0, 50256, 262];
        Assert.Equal(expected, AllTokens(dataset));
        Assert.Equal(3, meta.Documents);
        Assert.Equal(8, meta.TrainTokens);
        Assert.Equal(1, meta.ValTokens);
        Assert.Equal(TokenizerSpec.Gpt2, meta.Tokenizer);
        Assert.Equal(50257, meta.VocabSize);
        Assert.IsType<Gpt2Tokenizer>(dataset.Tokenizer);
    }

    [Fact]
    public void Char_documents_from_a_folder_are_joined_by_newlines()
    {
        _dir.WriteText("in/1.txt", "ab");
        _dir.WriteText("in/2.txt", "cd\n");
        _dir.WriteText("in/3.txt", "ef");
        var dataset = Prepare(_dir.File("in"), "char");
        Assert.Equal("ab\ncd\nef", dataset.Tokenizer.Decode(AllTokens(dataset)));
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0x62, 0xFF, 0x63 }, 2)]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0x61, 0xC3, 0xA9, 0xC3, 0x28 }, 6)]
    [InlineData(new byte[] { 0x61, 0x62, 0x63, 0xE6, 0x97 }, 3)]
    public void Invalid_utf8_names_the_file_and_the_byte_offset(byte[] content, long offset)
    {
        _dir.WriteText("in/good.txt", "fine");
        var bad = _dir.File("in/bad.txt");
        File.WriteAllBytes(bad, content);

        var error = Assert.Throws<InvalidTextException>(() => DataPreparer.Prepare(new DataPrepRequest(_dir.File("in"), _dir.File("data"), "char")));
        Assert.Equal(bad, error.FilePath);
        Assert.Equal(offset, error.ByteOffset);
        Assert.Contains(bad, error.Message);
        Assert.Contains($"offset {offset}", error.Message);
        Assert.False(Directory.Exists(_dir.File("data")));
    }

    [Fact]
    public void Reports_progress_and_honours_cancellation()
    {
        var input = _dir.WriteText("input.txt", "some text to read");
        var reports = new List<DataPrepProgress>();
        DataPreparer.Prepare(new DataPrepRequest(input, _dir.File("data"), "char"), new SynchronousProgress(reports.Add));
        Assert.Contains(new DataPrepProgress(DataPrepPhase.Reading, 17, 17), reports);
        Assert.Contains(new DataPrepProgress(DataPrepPhase.Tokenizing, 1, 1), reports);
        Assert.Equal(new DataPrepProgress(DataPrepPhase.Writing, 3, 3), reports[^1]);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => DataPreparer.Prepare(new DataPrepRequest(input, _dir.File("other"), "char"), null, cancelled.Token));
        Assert.False(Directory.Exists(_dir.File("other")));
    }

    [Fact]
    public void Refuses_to_replace_a_dataset_unless_asked()
    {
        var input = _dir.WriteText("input.txt", "abcdef");
        var output = _dir.File("data");
        DataPreparer.Prepare(new DataPrepRequest(input, output, "char"));
        Assert.Throws<ArgumentException>(() => DataPreparer.Prepare(new DataPrepRequest(input, output, "char")));

        File.WriteAllText(input, "xyzxyz");
        var meta = DataPreparer.Prepare(new DataPrepRequest(input, output, "char") { Overwrite = true });
        Assert.Equal("xyz", DatasetMeta.Load(output).Tokenizer.Vocabulary);
        Assert.Equal(meta, DatasetMeta.Load(output));
    }

    [Fact]
    public void Incomplete_folder_is_not_a_dataset()
    {
        var input = _dir.WriteText("input.txt", "abcdef");
        var output = _dir.File("data");
        DataPreparer.Prepare(new DataPrepRequest(input, output, "char"));
        File.Delete(Path.Combine(output, "val.bin"));
        var error = Assert.Throws<InvalidDataException>(() => DatasetMeta.Load(output));
        Assert.Contains("val.bin", error.Message);
        Assert.Throws<InvalidDataException>(() => DatasetMeta.Load(_dir.Path));
    }

    [Fact]
    public void Missing_source_is_a_clear_error()
    {
        var error = Assert.Throws<FileNotFoundException>(() => DataPreparer.Prepare(new DataPrepRequest(_dir.File("nope"), _dir.File("data"), "char")));
        Assert.Contains("builtin", error.Message);
    }

    [Fact]
    public void Builtin_subset_makes_a_gpt2_dataset()
    {
        var meta = DataPreparer.Prepare(new DataPrepRequest("builtin", _dir.File("data"), "gpt2") { Gpt2Vocab = gpt2.Vocab, MaxDocuments = 300 });
        Assert.Equal(300, meta.Documents);
        Assert.Equal("builtin", meta.Source);
        var dataset = Dataset.Load(_dir.File("data"), gpt2.Vocab);
        Assert.Equal(300, AllTokens(dataset).Count(t => t == 50256));
    }

    private static int[] AllTokens(Dataset dataset) => [.. dataset.Train.Concat(dataset.Val).Select(t => (int)t)];

    private Dataset Prepare(string source, string tokenizer)
    {
        var output = _dir.File("data-" + Guid.NewGuid().ToString("N"));
        DataPreparer.Prepare(new DataPrepRequest(source, output, tokenizer));
        return Dataset.Load(output);
    }

    // Progress<T> posts to the thread pool; tests need the reports before Prepare returns.
    private sealed class SynchronousProgress(Action<DataPrepProgress> report) : IProgress<DataPrepProgress>
    {
        public void Report(DataPrepProgress value) => report(value);
    }
}
