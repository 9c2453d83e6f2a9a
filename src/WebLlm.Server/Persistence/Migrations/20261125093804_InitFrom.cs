using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WebLlm.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class InitFrom : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "InitFromCheckpoint",
                table: "Runs",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "InitFromCheckpoint",
                table: "Runs");
        }
    }
}
