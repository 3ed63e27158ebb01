// Package names holds the project's own word lists for synthetic people and places. They are short,
// invented or very common words, so generated data never describes a real person.
package names

// First names by the gender they are usually given to; Neutral ones are given to anyone. A synthetic
// person's first name agrees with their recorded gender (First picks from the right lists).
var (
	Female = []string{"Aditi", "Ananya", "Avni", "Bhavna", "Deepa", "Divya", "Farah", "Geeta", "Isha", "Jaya",
		"Kavya", "Lata", "Meera", "Nandini", "Neha", "Pooja", "Priya", "Riya", "Sana", "Shreya", "Tanvi", "Usha",
		"Vidya", "Zoya"}
	Male = []string{"Aarav", "Akash", "Arjun", "Chetan", "Dev", "Gaurav", "Harish", "Ishaan", "Kabir", "Manish",
		"Mohan", "Nikhil", "Omar", "Pranav", "Rahul", "Ravi", "Rohan", "Sahil", "Sanjay", "Suresh", "Uday",
		"Varun", "Yash"}
	Neutral = []string{"Kiran", "Alex", "Avery", "Blake", "Casey", "Dana", "Eli", "Finley", "Harper", "Jamie",
		"Jordan", "Kai", "Logan", "Morgan", "Noor", "Parker", "Quinn", "Reese", "Rowan", "Sam", "Taylor"}
)

// FirstFor picks a first name for a person of the given gender ("female", "male", or anything else for
// a neutral name) with n, any number the caller draws.
func FirstFor(gender string, n int) string {
	switch gender {
	case "female":
		return pick(Female, Neutral, n)
	case "male":
		return pick(Male, Neutral, n)
	}
	return Neutral[n%len(Neutral)]
}

// pick draws from a then b as one list.
func pick(a, b []string, n int) string {
	n %= len(a) + len(b)
	if n < len(a) {
		return a[n]
	}
	return b[n-len(a)]
}

// First is every first name, for people whose gender is not recorded (candidates).
var First = append(append(append([]string{}, Female...), Male...), Neutral...)

var Last = []string{
	"Acharya", "Agarwal", "Bhat", "Bose", "Chatterjee", "Das", "Desai", "Gill", "Gupta", "Iyer", "Jain", "Joshi",
	"Kapoor", "Khan", "Kulkarni", "Kumar", "Menon", "Mishra", "Nair", "Patel", "Pillai", "Rao", "Reddy", "Saxena",
	"Shah", "Sharma", "Singh", "Sinha", "Thakur", "Varma", "Yadav", "Zaidi",
	"Abbott", "Baker", "Carter", "Ellis", "Fischer", "Grant", "Hayes", "Irwin", "Keller", "Lopez", "Moreno",
	"Okafor", "Price", "Quinn", "Reyes", "Silva", "Turner", "Walsh",
}

var Streets = []string{
	"Market", "Temple", "Station", "Lake", "Church", "Mill", "Garden", "Park", "River", "Hill", "School", "Canal",
	"Fort", "Palace", "Bazaar", "College", "Harbour", "Bridge", "Orchard", "Mango",
}

var StreetKinds = []string{"Road", "Street", "Lane", "Marg", "Avenue", "Cross", "Nagar"}

var Towns = []string{
	"Amberpur", "Bhimgarh", "Chandrakot", "Devnagar", "Gangapet", "Haridham", "Indrapuram", "Jaysar", "Kamawadi",
	"Lakshmiganj", "Madhuhalli", "Nandabad", "Padmapur", "Ramkot", "Sagarnagar", "Taragarh", "Umapet", "Vasupur",
	"Ashford", "Brookfield", "Cedarvale", "Dunmore", "Elmstead", "Fairhaven", "Glenrock", "Highmoor",
}
