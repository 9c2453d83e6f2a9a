using System.CommandLine;
using System.Diagnostics;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Cli;

public static class PrepareCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--input") { Description = "A .txt file, a folder of .txt files, or 'builtin' (the .NET reference documentation).", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "char, gpt2, or bpe (a byte-level BPE trained on the training split).", DefaultValueFactory = _ => TokenizerSpec.CharKind };
        tokenizer.AcceptOnlyFromAmong(TokenizerSpec.CharKind, TokenizerSpec.Gpt2Kind, TokenizerSpec.BpeKind);
        var vocabSize = new Option<int>("--vocab-size") { Description = "With --tokenizer bpe: 256 bytes + merges + special tokens (at most 65536).", DefaultValueFactory = _ => 4096 };
        var split = new Option<string>("--split") { Description = "With --tokenizer bpe: the pre-split pattern, gpt2 or gpt4.", DefaultValueFactory = _ => "gpt2" };
        split.AcceptOnlyFromAmong("gpt2", "gpt4");
        var chatTokens = new Option<bool>("--chat-tokens") { Description = "With --tokenizer bpe: add <|system|>, <|user|> and <|assistant|> for chat fine-tuning." };
        var output = new Option<string>("--out") { Description = "Dataset folder to create (train.bin, val.bin, meta.json).", Required = true };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share of tokens, from the end, kept for validation.", DefaultValueFactory = _ => 0.1 };
        var maxDocuments = new Option<int?>("--max-documents") { Description = "Use only the first N documents." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing dataset folder." };
        var gpt2Vocab = CliRunner.Gpt2VocabOption();

        var command = new Command("prepare", "Tokenize text into train/val token shards (llm.c's .bin layout) and meta.json.")
        {
            input, tokenizer, vocabSize, split, chatTokens, output, valFraction, maxDocuments, overwrite, gpt2Vocab,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            string kind = parse.GetValue(tokenizer)!;
            double val = parse.GetValue(valFraction);
            if (val is <= 0 or >= 1) throw new ArgumentException($"--val-fraction must be between 0 and 1 (got {val}).");
            var request = new DataPrepRequest(parse.GetValue(input)!, parse.GetValue(output)!, kind)
            {
                Gpt2Vocab = CliRunner.VocabFor(kind, parse.GetValue(gpt2Vocab)),
                ValFraction = val,
                MaxDocuments = parse.GetValue(maxDocuments),
                Overwrite = parse.GetValue(overwrite),
                VocabSize = parse.GetValue(vocabSize),
                Split = parse.GetValue(split)!,
                ChatTokens = parse.GetValue(chatTokens),
            };
            var sw = Stopwatch.StartNew();
            using var bar = new ProgressBar();
            var meta = DataPreparer.Prepare(request, new SyncProgress<DataPrepProgress>(p =>
                bar.Update(p.Phase == DataPrepPhase.TrainingTokenizer ? "learning merges" : p.Phase.ToString().ToLowerInvariant(), p.Done, p.Total)));
            bar.Clear();
            Console.WriteLine($"prepared {request.OutputDirectory}: {meta.Tokenizer.Kind} tokenizer, vocabulary {meta.VocabSize}, " +
                              $"{meta.Documents:N0} documents, {meta.TrainTokens:N0} train + {meta.ValTokens:N0} val tokens " +
                              $"({meta.ValBytesPerToken:F2} bytes a token on the validation text) in {sw.Elapsed.TotalSeconds:F1} s");
            return CliRunner.Ok;
        }));
        return command;
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
