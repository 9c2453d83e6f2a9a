using System.CommandLine;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Cli;

public static class TokenizeCommand
{
    public static Command Create()
    {
        var text = new Argument<string>("text") { Description = "Text to tokenize." };
        var tokenizer = new Option<string>("--tokenizer") { Description = "gpt2, char (with --data), or a dataset folder (its own tokenizer: char or a trained bpe).", DefaultValueFactory = _ => TokenizerSpec.Gpt2Kind };
        var data = new Option<string?>("--data") { Description = "Dataset folder whose char vocabulary to use." };
        var gpt2Vocab = CliRunner.Gpt2VocabOption();

        var command = new Command("tokenize", "Print the token ids of a text, separated by spaces.") { text, tokenizer, data, gpt2Vocab };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            string kind = parse.GetValue(tokenizer)!;
            Tokenizer tok;
            if (kind is not (TokenizerSpec.Gpt2Kind or TokenizerSpec.CharKind))
            {
                if (!Directory.Exists(kind))
                    throw new ArgumentException($"--tokenizer must be gpt2, char or a prepared dataset folder; {kind} is none of them.");
                var spec = DatasetMeta.Load(kind).Tokenizer;
                tok = Tokenizer.Create(spec, spec.Kind == TokenizerSpec.Gpt2Kind ? Gpt2Vocab.Load(parse.GetValue(gpt2Vocab)) : null);
            }
            else if (kind == TokenizerSpec.Gpt2Kind)
            {
                tok = Tokenizer.Create(TokenizerSpec.Gpt2, Gpt2Vocab.Load(parse.GetValue(gpt2Vocab)));
            }
            else
            {
                string dir = parse.GetValue(data) ?? throw new ArgumentException("--tokenizer char needs --data DIR: the vocabulary is stored with the dataset.");
                var meta = DatasetMeta.Load(dir);
                if (meta.Tokenizer.Kind != TokenizerSpec.CharKind)
                    throw new ArgumentException($"{dir} was prepared with the {meta.Tokenizer.Kind} tokenizer, not char.");
                tok = Tokenizer.Create(meta.Tokenizer);
            }
            Console.WriteLine(string.Join(' ', tok.Encode(parse.GetValue(text)!)));
            return CliRunner.Ok;
        }));
        return command;
    }
}
